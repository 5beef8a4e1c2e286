// Validation's row counts (countAll): one statement per table in one round trip and one
// transaction, answers in the tables' order, a row filter honoured, and a failed count that
// leaves the session usable; and the validation session's plans: no parallel index-only scan.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { resolveConnection } from '../activities/credentials';
import { closeQuietly, openClient } from '../activities/db';
import { countAll, SCAN_SETTINGS } from '../activities/validate/validate-tables';
import { startPostgres, type PgCluster } from '../launch/postgres';

let pg: PgCluster;

beforeAll(async () => {
  pg = await startPostgres({ name: 'count-all' });
  await pg.query(`DO $$ BEGIN FOR i IN 1..300 LOOP EXECUTE format('CREATE TABLE "T %s" (id int)', i); EXECUTE format('INSERT INTO "T %s" SELECT generate_series(1, %s)', i, i); END LOOP; END $$`);
});

afterAll(async () => {
  await pg?.stop();
});

it('counts every table in order, in one transaction, and names the ones that differ', async () => {
  const client = await openClient(resolveConnection({ host: pg.host, port: pg.port, database: 'postgres', user: 'postgres' }, {}), 'test');
  try {
    const tables = Array.from({ length: 300 }, (_, i) => ({ schema: 'public', name: `T ${i + 1}`, rows: i === 41 ? 41 : i + 1 }));
    const counted = await countAll(client, tables);
    expect(counted.map((c) => c.actualRows)).toEqual(tables.map((_, i) => i + 1));
    expect(counted.filter((c) => !c.ok)).toEqual([{ schema: 'public', name: 'T 42', expectedRows: 41, actualRows: 42, ok: false }]);
    expect(await countAll(client, [{ schema: 'public', name: 'T 10', rows: 3, where: 'id > 7' }])).toEqual([{ schema: 'public', name: 'T 10', expectedRows: 3, actualRows: 3, ok: true }]);
    expect(await countAll(client, [])).toEqual([]);
    // Every count runs inside the one repeatable-read transaction (one snapshot for all): a condition true only there keeps every row.
    const inRepeatableRead = "pg_catalog.current_setting('transaction_isolation') = 'repeatable read'";
    const isolated = await countAll(client, [1, 2, 300].map((n) => ({ schema: 'public', name: `T ${n}`, rows: n, where: inRepeatableRead })));
    expect(isolated.map((c) => [c.actualRows, c.ok])).toEqual([[1, true], [2, true], [300, true]]);

    await expect(countAll(client, [tables[0], { schema: 'public', name: 'missing', rows: 0 }])).rejects.toThrow(/relation "public.missing" does not exist/);
    // The session is usable, outside any transaction: now() is this statement's own start.
    const { rows } = await client.query<{ fresh: boolean }>('SELECT pg_catalog.now() = pg_catalog.statement_timestamp() AS fresh');
    expect(rows[0].fresh).toBe(true);
  } finally {
    await closeQuietly(client);
  }
});

it('counts an all-visible table without a parallel index scan', async () => {
  // An all-visible table with a key, and planner costs that make any table worth parallel workers:
  // a session without SCAN_SETTINGS counts it by a parallel index-only scan.
  await pg.query(`CREATE TABLE visible (id int PRIMARY KEY); INSERT INTO visible SELECT generate_series(1, 100000)`);
  await pg.query('VACUUM ANALYZE visible');
  const provoke = `SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0; SET enable_seqscan = off`;
  const conn = resolveConnection({ host: pg.host, port: pg.port, database: 'postgres', user: 'postgres' }, {});
  const plan = async (settings: Record<string, string>) => {
    const client = await openClient(conn, 'test', settings);
    try {
      await client.query(provoke);
      const { rows } = await client.query<{ 'QUERY PLAN': string }>('EXPLAIN SELECT count(*)::bigint AS n FROM ONLY public.visible');
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    } finally {
      await closeQuietly(client);
    }
  };
  expect(await plan({})).toMatch(/Parallel Index Only Scan/);
  expect(await plan(SCAN_SETTINGS)).not.toMatch(/Parallel Index/);
});
