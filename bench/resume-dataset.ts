/**
 * The resume benchmark's database: pgbench at --scale, whose pgbench_accounts is the big table
 * (about 13.4 MB of heap per scale unit: 160 makes 2.0 GiB), beside its three small tables.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { PG_BIN, type PgCluster } from '../launch/postgres';

export const BIG_TABLE = { schema: 'public', name: 'pgbench_accounts' };

export interface Dataset {
  scale: number;
  /** pg_table_size: what pgferry lists as the table's size (and splits by). */
  bigTableBytes: number;
  /** The main fork alone, which a copy in flight grows on the target: the kill's yardstick. */
  bigHeapBytes: number;
  bigTableRows: number;
  databaseBytes: number;
  tables: number;
}

export async function buildDataset(source: PgCluster, db: string, scale: number): Promise<Dataset> {
  await source.createDatabase(db);
  await run(join(PG_BIN, 'pgbench'), ['-i', '-q', '-I', 'dtgvp', '-s', String(scale), '-h', source.host, '-p', String(source.port), '-U', 'postgres', db]);
  // pgbench_history has no key: an incremental migration's precheck requires a replica identity
  // for the tables whose updates and deletes it streams (a change to the data set, not the spec).
  await source.query('ALTER TABLE pgbench_history REPLICA IDENTITY FULL', db);
  const [sizes] = await source.query<{ table: string; heap: string; rows: string; db: string; tables: string }>(
    `SELECT pg_table_size('pgbench_accounts') AS table, pg_relation_size('pgbench_accounts') AS heap,
            (SELECT count(*) FROM pgbench_accounts) AS rows, pg_database_size(current_database()) AS db,
            (SELECT count(*) FROM pg_tables WHERE schemaname = 'public') AS tables`,
    db,
  );
  return { scale, bigTableBytes: Number(sizes.table), bigHeapBytes: Number(sizes.heap), bigTableRows: Number(sizes.rows), databaseBytes: Number(sizes.db), tables: Number(sizes.tables) };
}

/** Its output goes to the terminal (pgbench -q prints its progress every 5 s). */
function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')}: exit ${code}`))));
  });
}
