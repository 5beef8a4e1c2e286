/** Worker settings from the environment, with the defaults the README documents. */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTemporalConnection, type TemporalConnection } from '../client/temporal-connection';
import { metricsBindAddress } from './metrics';

export interface WorkerConfig {
  /** Address, namespace, TLS, API key: Temporal's environment variables and config profile. */
  temporal: TemporalConnection;
  taskQueue: string;
  pgBinDir: string;
  tmpDir: string;
  /** Where to serve Prometheus metrics (worker/metrics.ts); none when unset. */
  metricsAddress?: string;
}

export const DEFAULT_TASK_QUEUE = 'pgferry';

/** pg_dump and friends: $PGFERRY_PG_BIN, else the newest /usr/lib/postgresql/<v>/bin, else PATH. */
export function findPgBinDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PGFERRY_PG_BIN) return env.PGFERRY_PG_BIN;
  for (const version of [18, 17, 16, 15, 14, 13]) {
    const dir = `/usr/lib/postgresql/${version}/bin`;
    if (existsSync(join(dir, 'pg_dump'))) return dir;
  }
  return '/usr/bin';
}

/** Throws TemporalSettingsError when the Temporal settings cannot work (a missing certificate file...), MetricsSettingError for a bad metrics address. */
export function workerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  return {
    temporal: loadTemporalConnection(env),
    taskQueue: env.PGFERRY_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
    pgBinDir: findPgBinDir(env),
    tmpDir: env.PGFERRY_TMP ?? tmpdir(),
    metricsAddress: metricsBindAddress(env.PGFERRY_METRICS_ADDRESS),
  };
}
