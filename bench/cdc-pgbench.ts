/**
 * The write load of the change-capture benchmark: pgbench's own tables and its simple-update
 * script (`-N`), the load of ../shared/guides/benchmarks.md. The WAL position is read right
 * before and after each run, so catch-up is timed from the exact end of the load.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { PgCluster } from '../launch/postgres';
import { PG_BIN } from '../launch/postgres';
import { currentLsn } from './cdc-lag';

const run = promisify(execFile);

export const PGBENCH_TABLES = ['pgbench_accounts', 'pgbench_branches', 'pgbench_tellers', 'pgbench_history'];

const connArgs = (c: PgCluster, db: string) => ['-h', c.host, '-p', String(c.port), '-U', 'postgres', db];
const env = (c: PgCluster) => ({ ...process.env, PGPASSWORD: c.password ?? '' });

/**
 * A fresh `db` on the source with pgbench's tables at `scale` (primary keys, no foreign keys).
 * pgbench_history has no key and gets only inserts (and a truncate before each run): pgferry
 * replicates only those (`incremental.tables`), native replication publishes it as it is.
 */
export async function buildPgbenchDatabase(source: PgCluster, db: string, scale: number): Promise<void> {
  await source.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await source.createDatabase(db);
  await run(join(PG_BIN, 'pgbench'), ['-i', '-q', '-s', String(scale), ...connArgs(source, db)], { env: env(source), maxBuffer: 64 * 1024 * 1024 });
  await source.query('CHECKPOINT');
}

export interface LoadResult {
  seconds: number;
  transactions: number;
  tps: number;
  /** WAL positions (bytes) just before pgbench started and just after it ended. */
  startLsn: number;
  endLsn: number;
  /** When the load ended (Date.now()). */
  endedAt: number;
}

/**
 * `pgbench -c 4 -j 2 -T <seconds> -N` as the issue gives it (so pgbench's usual vacuum and
 * `TRUNCATE pgbench_history` come first, and are replicated too).
 */
export async function runLoad(source: PgCluster, db: string, seconds: number): Promise<LoadResult> {
  const startLsn = await currentLsn(source, db);
  const started = Date.now();
  const { stdout } = await run(join(PG_BIN, 'pgbench'), ['-c', '4', '-j', '2', '-T', String(seconds), '-N', ...connArgs(source, db)], { env: env(source), maxBuffer: 16 * 1024 * 1024 });
  const endedAt = Date.now();
  const endLsn = await currentLsn(source, db);
  const transactions = Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1] ?? NaN);
  const tps = Number(/tps = ([\d.]+)/.exec(stdout)?.[1] ?? NaN);
  if (!Number.isFinite(transactions) || !Number.isFinite(tps)) throw new Error(`could not read pgbench's output:\n${stdout}`);
  return { seconds: (endedAt - started) / 1000, transactions, tps, startLsn, endLsn, endedAt };
}

/** Row counts of pgbench's tables, source against target: empty when they agree. */
export async function compareCounts(source: PgCluster, target: PgCluster, db: string): Promise<string[]> {
  const sql = PGBENCH_TABLES.map((t) => `SELECT '${t}' AS t, (SELECT count(*) FROM ${t})::bigint AS n`).join(' UNION ALL ');
  const [s, t] = await Promise.all([source.query<{ t: string; n: string }>(sql, db), target.query<{ t: string; n: string }>(sql, db)]);
  const onTarget = new Map(t.map((r) => [r.t, r.n]));
  return s.filter((r) => onTarget.get(r.t) !== r.n).map((r) => `${r.t}: ${onTarget.get(r.t)} rows on target, ${r.n} on source`);
}
