/** What activities need from the worker, injected so tests can pass their own. */
import type { ConnectionRef } from '../common/connection';
import { resolveConnection, type ResolvedConnection } from './credentials';

export interface ActivityDeps {
  /** Where passwords named by passwordEnv (and PGPASSWORD) are looked up. */
  env: NodeJS.ProcessEnv;
  /** Directory holding pg_dump, pg_restore and psql. */
  pgBinDir: string;
  /** Scratch space for post-data dumps. */
  tmpDir: string;
}

export interface RetryWindows {
  connectionMinutes: number;
  otherMinutes: number;
}

/** Fields every activity input carries. */
export interface Endpoints {
  source: ConnectionRef;
  target: ConnectionRef;
  retry: RetryWindows;
}

export function resolveBoth(deps: ActivityDeps, input: Endpoints): { source: ResolvedConnection; target: ResolvedConnection; secrets: string[] } {
  const source = resolveConnection(input.source, deps.env);
  const target = resolveConnection(input.target, deps.env);
  return { source, target, secrets: [...source.secrets, ...target.secrets] };
}
