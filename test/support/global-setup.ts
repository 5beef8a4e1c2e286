/**
 * One real Temporal dev server for the whole test run (tests start their own PostgreSQL
 * clusters and workers). TEMPORAL_ADDRESS points the tests at an existing server instead.
 */
import type { TestProject } from 'vitest/node';
import { startTemporalServer, type TemporalServer } from '../../launch/temporal';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
  }
}

let server: TemporalServer | undefined;

export async function setup(project: TestProject): Promise<void> {
  if (process.env.TEMPORAL_ADDRESS) {
    project.provide('temporalAddress', process.env.TEMPORAL_ADDRESS);
    return;
  }
  server = await startTemporalServer();
  project.provide('temporalAddress', server.address);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
