// Validation's row counts (countAll): one statement per table in one round trip and one
// transaction, answers in the tables' order, a row filter honoured, and a failed count that
// leaves the session usable; the validation session's plans: no parallel index-only scan; and
// validation's counts spread over sessions, answered in the tables' order.
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { resolveConnection } from '../activities/credentials';
import { closeQuietly, openClient } from '../activities/db';
import { COUNT_SETTINGS, countAll, makeValidateTables, SCAN_SETTINGS, type ValidateInput } from '../activities/validate/validate-tables';
import { OWN_SESSION_ROWS } from '../activities/validate/count-groups';
import { startPostgres, type PgCluster } from '../launch/postgres';
import { waitFor } from './support/harness';
import type { TableValidation } from '../common/plan';

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

/** Validation's activity in count mode, against the test server; its sessions closed when it returns. */
async function validateCounts(tables: ValidateInput['tables']): Promise<TableValidation[]> {
  const validate = makeValidateTables({ env: {}, pgBinDir: '', tmpDir: '' });
  const target = { host: pg.host, port: pg.port, database: 'postgres', user: 'postgres' };
  const input: ValidateInput = { target, mode: 'count', tables, retry: { connectionMinutes: 1, otherMinutes: 1 } };
  const results: TableValidation[] = await new MockActivityEnvironment().run(validate, input);
  // No session is left behind (they close in the background: give them a moment).
  await waitFor('the validation sessions to close', async () => Number((await pg.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'pgferry validate'"))[0].n) === 0);
  return results;
}

it('validates big tables in sessions of their own, each answer in the place of its table', async () => {
  // Three tables big enough for a session of their own, between small ones; two counts are wrong.
  for (const [name, rows] of [['big a', OWN_SESSION_ROWS + 5], ['big b', OWN_SESSION_ROWS], ['big c', OWN_SESSION_ROWS + 1]] as const) {
    await pg.query(`CREATE TABLE "${name}" (id int PRIMARY KEY); INSERT INTO "${name}" SELECT generate_series(1, ${rows})`);
  }
  const tables = [
    { schema: 'public', name: 'T 3', rows: 3 },
    { schema: 'public', name: 'big a', rows: OWN_SESSION_ROWS + 5 },
    { schema: 'public', name: 'T 7', rows: 6 },
    { schema: 'public', name: 'big b', rows: OWN_SESSION_ROWS + 1 },
    { schema: 'public', name: 'big c', rows: OWN_SESSION_ROWS + 1 },
  ];
  const results = await validateCounts(tables);
  expect(results.map((r) => [r.name, r.actualRows, r.ok])).toEqual([
    ['T 3', 3, true],
    ['big a', OWN_SESSION_ROWS + 5, true],
    ['T 7', 7, false],
    ['big b', OWN_SESSION_ROWS, false],
    ['big c', OWN_SESSION_ROWS + 1, true],
  ]);
});

it('counts each big table in a session of its own and the small ones together', async () => {
  // Each count says which session ran it: it counts as many rows as its backend's pid (mod 50,000) + 1.
  await pg.query('CREATE TABLE pids (id int); INSERT INTO pids SELECT generate_series(1, 50000)');
  const bySession = { schema: 'public', name: 'pids', where: 'id <= pg_catalog.pg_backend_pid() % 50000 + 1' };
  const big = (n: number) => ({ ...bySession, rows: OWN_SESSION_ROWS + n });
  const small = { ...bySession, rows: 10 };
  const counted = (await validateCounts([small, big(1), big(2), small, big(3)])).map((r) => r.actualRows);
  expect(counted[0]).toBe(counted[3]); // the small ones: one session
  expect(new Set([counted[0], counted[1], counted[2], counted[4]]).size).toBe(4); // three more, a big table each
});

it('counts a freshly keyed table by reading it, not its index', async () => {
  // Rows wide against their key, all-visible as a copy leaves them (COPY FREEZE in the transaction
  // that made the table, then ANALYZE): counting them from the key is what the planner would choose.
  await pg.query(`BEGIN; CREATE TABLE keyed (id int PRIMARY KEY, pad text DEFAULT repeat('x', 200));
    COPY keyed (id) FROM PROGRAM 'seq 1 100000' (FREEZE); ANALYZE keyed; COMMIT`);
  const conn = resolveConnection({ host: pg.host, port: pg.port, database: 'postgres', user: 'postgres' }, {});
  const plan = async (settings: Record<string, string>) => {
    const client = await openClient(conn, 'test', settings);
    try {
      const { rows } = await client.query<{ 'QUERY PLAN': string }>('EXPLAIN SELECT count(*)::bigint AS n FROM ONLY public.keyed');
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    } finally {
      await closeQuietly(client);
    }
  };
  expect(await plan(SCAN_SETTINGS)).toMatch(/Index Only Scan/);
  const counting = await plan(COUNT_SETTINGS);
  expect(counting).toMatch(/Seq Scan/);
  expect(counting).not.toMatch(/Index|Parallel/);
  // And validation counts it so: one sequential scan, its key untouched (the sessions' statistics
  // are flushed as they end, before validateCounts returns).
  const scans = async () => (await pg.query<{ seq: string; idx: string }>("SELECT seq_scan AS seq, coalesce(idx_scan, 0) AS idx FROM pg_stat_user_tables WHERE relname = 'keyed'"))[0];
  const before = await scans();
  expect(await validateCounts([{ schema: 'public', name: 'keyed', rows: 100000 }])).toMatchObject([{ actualRows: 100000, ok: true }]);
  const after = await scans();
  expect([Number(after.seq) - Number(before.seq), Number(after.idx) - Number(before.idx)]).toEqual([1, 0]);
});
