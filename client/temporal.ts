/** Connecting the CLI to Temporal, from the usual environment variables. */
import { Client, Connection } from '@temporalio/client';

export interface TemporalSettings {
  address: string;
  namespace: string;
  taskQueue: string;
}

export function temporalSettings(env: NodeJS.ProcessEnv = process.env, taskQueue?: string): TemporalSettings {
  return {
    address: env.TEMPORAL_ADDRESS ?? 'localhost:7233',
    namespace: env.TEMPORAL_NAMESPACE ?? 'default',
    taskQueue: taskQueue ?? env.PGFERRY_TASK_QUEUE ?? 'pgferry',
  };
}

export async function connectClient(settings: TemporalSettings): Promise<Client> {
  try {
    const connection = await Connection.connect({ address: settings.address, connectTimeout: '10s' });
    return new Client({ connection, namespace: settings.namespace });
  } catch (err) {
    throw new Error(
      `cannot reach the Temporal server at ${settings.address}: ${(err as Error).message}. Start one (npm run quickstart, or temporal server start-dev) or set TEMPORAL_ADDRESS.`,
    );
  }
}
