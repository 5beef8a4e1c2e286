/**
 * DDL replication (incremental.ddl): schema changes on the source during an incremental
 * migration, under a concurrent write load, reach the target at their place in the stream —
 * one issued during the full copy, one in the same transaction as row changes, a table renamed
 * and then its column, a table created then filled, one created with rows, DDL on an excluded
 * table and on a table that objects.rename renames — and the worker is killed right after a
 * DDL. After cutover the target's pg_dump --schema-only equals the source's (modulo the rename
 * and the excluded tables), every table's checksum equals the source's, the report lists the
 * DDL, and nothing pgferry made is left on the source.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MigrationProgress, MigrationReport } from '../common/plan';
import { queryChecksum, runCli, startHarness, tableChecksums, waitFor, waitForPhase, writeSpec, type Harness } from './support/harness';
import { LOAD_SCHEMA_SQL, replicationLeftovers, startWriteLoad, type WriteLoad } from './support/write-load';

const PG_BIN = '/usr/lib/postgresql/15/bin';

function schemaDump(h: Harness, side: 'source' | 'target', extra: string[] = []): string {
  const cluster = h[side];
  const text = execFileSync(join(PG_BIN, 'pg_dump'), ['--schema-only', '-h', cluster.host, '-p', String(cluster.port), '-U', 'postgres', ...extra, 'app'], {
    env: { ...process.env, PGPASSWORD: cluster.password ?? '' },
    encoding: 'utf8',
  });
  return text.replace(/^\\(un)?restrict .*$/gm, '');
}

const EXTRA_SCHEMA_SQL = `
CREATE TABLE items (id int PRIMARY KEY, v text, n int);
INSERT INTO items SELECT g, 'v' || g, g FROM generate_series(1, 2000) g;
CREATE TABLE customers (id int PRIMARY KEY, name text);
INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 100) g;
CREATE TABLE skip_me (id int PRIMARY KEY, x text);
INSERT INTO skip_me SELECT g, 'x' FROM generate_series(1, 10) g;
CREATE TABLE doomed (id int PRIMARY KEY);
CREATE TYPE mood AS ENUM ('sad', 'ok');
CREATE TABLE feelings (id int PRIMARY KEY, m mood);
INSERT INTO feelings VALUES (1, 'sad'), (2, 'ok');
`;

describe('DDL replication', () => {
  let h: Harness;
  let load: WriteLoad | undefined;

  beforeAll(async () => {
    h = await startHarness({ name: 'ddl', temporalAddress: inject('temporalAddress') });
    await h.source.createDatabase('app');
    await h.target.createDatabase('app');
    await h.source.query(LOAD_SCHEMA_SQL + EXTRA_SCHEMA_SQL, 'app');
  });

  afterAll(async () => {
    await load?.stop();
    await h?.close();
  });

  it('applies source DDL at its place in the stream and cuts over to an identical schema and data', async () => {
    load = await startWriteLoad(h.source, 'app', 2);
    const spec = writeSpec({
      source: h.source.url('app'),
      target: h.target.url('app'),
      types: ['schema', 'full', 'incremental'],
      validation: 'checksum',
      objects: { exclude: ['public.skip_*'], rename: { 'public.customers': 'clients' } },
      incremental: { tables: { 'public.audit_log': { operations: ['insert'] } } },
      // docs holds ~10 MB: the copy takes a few seconds, long enough for a DDL during it.
      throttle: { full: { mbPerSecond: 2 } },
      precheck: { ignore: ['tables-without-key'] },
      retry: { otherMinutes: 0.5 }, // a DDL the stream cannot apply fails the test soon, with its message
    });
    const workflowId = `ddl-${Date.now()}`;
    const sql = (text: string) => h.source.query(text, 'app');
    const precheck = await runCli(['precheck', spec, '--json'], h.cliEnv);
    expect(JSON.parse(precheck.stdout).items).toContainEqual(expect.objectContaining({ id: 'ddl-capture', status: 'pass' }));

    expect((await runCli(['start', spec, '--id', workflowId], h.cliEnv)).code).toBe(0);
    const status = async () => JSON.parse((await runCli(['status', workflowId, '--json'], h.cliEnv)).stdout) as { progress: MigrationProgress };
    // A migration that ended while a step waits fails the test at once, with its error.
    let lastFailure: string | undefined;
    const stillRunning = async () => {
      if ((await h.client.workflow.getHandle(workflowId).describe()).status.name === 'RUNNING') {
        const stream = await h.client.workflow.getHandle(`${workflowId}/stream`).describe().catch(() => undefined);
        const failure = stream?.raw.pendingActivities?.[0]?.lastFailure?.message;
        if (failure && failure !== lastFailure) console.log(`stream attempt failed: ${failure}`);
        lastFailure = failure ?? undefined;
        return;
      }
      const r = await runCli(['status', workflowId], h.cliEnv);
      throw Object.assign(new Error(`the migration ended: ${r.stderr} ${r.stdout}`), { fatal: true });
    };
    await waitFor('the copy', async () => (await status()).progress.phase === 'data', 120_000, 100);
    // During the copy: it waits for the copy's locks on items, then commits; the stream brings it.
    const duringCopy = sql(`ALTER TABLE items ADD COLUMN during_copy int DEFAULT 7; INSERT INTO items (id, v, n, during_copy) VALUES (100001, 'during copy', 1, 8);`);
    // The capture is in place on the source while the migration runs.
    expect((await replicationLeftovers(h.source, 'app')).filter((l) => l.startsWith('event trigger'))).toHaveLength(3);
    await duringCopy;
    await waitFor('the stream to run', async () => (await stillRunning(), (await status()).progress.phase === 'streaming'), 240_000, 200);

    // The column family, in the same transaction as row changes, on a table under load too.
    await sql(`BEGIN;
      UPDATE items SET v = v || '!' WHERE id <= 10;
      ALTER TABLE items ADD COLUMN extra integer;
      UPDATE items SET extra = id * 2 WHERE id <= 20;
      INSERT INTO items (id, v, n, extra) VALUES (5001, 'with extra', 3, 9);
      COMMIT;`);
    await sql(`ALTER TABLE orders ADD COLUMN shipped boolean NOT NULL DEFAULT false`);
    // A volatile default: every existing row got its own value on the source, copied to the target.
    await sql(`ALTER TABLE orders ADD COLUMN stamp timestamptz DEFAULT clock_timestamp()`);
    await sql(`ALTER TABLE items ALTER COLUMN n TYPE bigint; ALTER TABLE items ALTER COLUMN v SET DEFAULT 'none'; ALTER TABLE items ALTER COLUMN n SET NOT NULL`);
    await sql(`ALTER TABLE items ADD CONSTRAINT n_positive CHECK (n > 0); ALTER TABLE items DROP COLUMN during_copy`);
    await sql(`INSERT INTO items (id, n) VALUES (5002, 5)`);
    await sql(`CREATE INDEX CONCURRENTLY items_v_idx ON items (v)`);
    await sql(`CREATE INDEX items_n_idx ON items (n); DROP INDEX items_n_idx`);

    // Kill the worker right after a DDL: the retry finds it applied (or applies it) exactly once.
    await sql(`ALTER TABLE items ALTER COLUMN v DROP DEFAULT; UPDATE items SET n = n + 1 WHERE id = 1`);
    await h.worker.kill('SIGKILL');
    await h.restartWorker();

    // A table renamed, then its column; a column of a table objects.rename renames.
    await sql(`ALTER TABLE items RENAME TO goods; ALTER TABLE goods RENAME COLUMN v TO label; ALTER TABLE goods ALTER COLUMN n DROP NOT NULL`);
    await sql(`UPDATE goods SET label = 'renamed' WHERE id <= 5; INSERT INTO goods (id, label, n) VALUES (5003, 'after rename', 1)`);
    await sql(`ALTER TABLE customers RENAME COLUMN name TO full_name; INSERT INTO customers VALUES (101, 'new customer')`);
    await sql(`COMMENT ON TABLE goods IS 'renamed from items'; COMMENT ON COLUMN customers.full_name IS 'the name'`);
    await sql(`GRANT SELECT ON goods TO PUBLIC; REVOKE SELECT ON goods FROM PUBLIC; GRANT SELECT (label) ON goods TO PUBLIC`);

    // New tables: created then filled; created with rows (and a key in the same transaction); excluded by a pattern.
    await sql(`CREATE TABLE fresh (id int PRIMARY KEY, x text)`);
    await sql(`INSERT INTO fresh SELECT g, 'f' || g FROM generate_series(1, 300) g`);
    await sql(`BEGIN; CREATE TABLE made AS SELECT id, label FROM goods WHERE id <= 100; ALTER TABLE made ADD PRIMARY KEY (id); COMMIT;`);
    await sql(`INSERT INTO made VALUES (100000, 'after')`);
    await sql(`CREATE TABLE skip_new (id int PRIMARY KEY); INSERT INTO skip_new VALUES (1); ALTER TABLE skip_me ADD COLUMN y int`);
    await sql(`DROP TABLE doomed`);

    // Sequences, views, functions, types.
    await sql(`CREATE SEQUENCE fresh_seq START 10; ALTER SEQUENCE fresh_seq INCREMENT BY 5; CREATE SEQUENCE gone_seq; DROP SEQUENCE gone_seq`);
    await sql(`CREATE VIEW goods_view AS SELECT id, label FROM goods; CREATE OR REPLACE VIEW goods_view AS SELECT id, label, n FROM goods`);
    await sql(`CREATE OR REPLACE FUNCTION twice(i int) RETURNS int LANGUAGE sql AS $$ SELECT i * 2 $$`);
    await sql(`CREATE TYPE pair AS (a int, b text); ALTER TYPE mood ADD VALUE 'happy'`);
    await sql(`INSERT INTO feelings VALUES (3, 'happy')`);

    await waitFor('the last DDL to be applied', async () => (await stillRunning(), (await h.target.query(`SELECT 1 FROM feelings WHERE id = 3`, 'app')).length === 1), 120_000, 300);
    // status (and the Web UI) show the count and the last statement, reported every few seconds.
    await waitFor('status to show the last DDL', async () => /ALTER TYPE mood ADD VALUE 'happy'/.test((await status()).progress.stream?.ddl?.last?.statement ?? ''), 30_000, 500);
    expect((await status()).progress.stream?.ddl?.applied).toBeGreaterThanOrEqual(30);
    const text = await runCli(['status', workflowId], h.cliEnv);
    expect(text.stdout).toMatch(/DDL replicated: \d+ applied, 2 skipped  ·  last \(applied\): ALTER TYPE mood ADD VALUE 'happy'/);

    await load.stop();
    load = undefined;
    const cutover = await runCli(['cutover', workflowId], h.cliEnv);
    expect(cutover.stderr).toBe('');
    expect(cutover.code).toBe(0);
    expect(cutover.stdout).toMatch(/DDL replicated from the source: \d+ applied, \d+ skipped/);
    expect(cutover.stdout).toMatch(/skipped \(public\.skip_me is not migrated\): ALTER TABLE skip_me ADD COLUMN y int/);
    expect(cutover.stdout).toMatch(/\(10[01] rows copied\): ALTER TABLE made ADD PRIMARY KEY/);
    expect(cutover.stdout).toContain('ALTER TABLE "public"."clients" RENAME COLUMN name TO full_name');

    const result = await runCli(['status', workflowId, '--json'], h.cliEnv);
    const report = JSON.parse(result.stdout).report as MigrationReport;
    expect(report.cutover?.ddl?.records.map((r) => r.tag)).toEqual(expect.arrayContaining(['ALTER TABLE', 'CREATE INDEX', 'DROP INDEX', 'CREATE TABLE', 'CREATE TABLE AS', 'DROP TABLE', 'CREATE SEQUENCE', 'ALTER SEQUENCE', 'DROP SEQUENCE', 'CREATE VIEW', 'CREATE FUNCTION', 'CREATE TYPE', 'ALTER TYPE', 'COMMENT', 'GRANT', 'REVOKE']));

    // The schema: equal, modulo the renamed table and the excluded ones.
    const source = schemaDump(h, 'source', ['--exclude-table=public.skip_*']);
    const target = schemaDump(h, 'target').replace(/\bclients\b/g, 'customers');
    expect(target).toEqual(source);
    // The data: every table's checksum.
    const src = await tableChecksums(h.source, 'app');
    const tgt = await tableChecksums(h.target, 'app');
    for (const t of ['public.skip_me', 'public.skip_new']) delete src[t];
    tgt['public.customers'] = tgt['public.clients'];
    delete tgt['public.clients'];
    expect(tgt).toEqual(src);
    expect(await queryChecksum(h.target, 'app', 'SELECT * FROM made')).toBe(await queryChecksum(h.source, 'app', 'SELECT * FROM made'));
    // Nothing left on the source: no slot, publication, event trigger or capture schema.
    expect(await replicationLeftovers(h.source, 'app')).toEqual([]);
  });

  it('applies DDL on renamed columns under their target names and skips DDL on left-out ones', async () => {
    await h.source.createDatabase('cols');
    await h.target.createDatabase('cols');
    const sql = (text: string) => h.source.query(text, 'cols');
    await sql(`CREATE TABLE people (id int PRIMARY KEY, name text, ssn text, age int, secret_note text);
      INSERT INTO people SELECT g, 'p' || g, 'ssn' || g, g, 'note' FROM generate_series(1, 500) g;
      CREATE TABLE tally (id int PRIMARY KEY, n int); INSERT INTO tally SELECT g, g FROM generate_series(1, 10) g;`);
    const spec = writeSpec({
      source: h.source.url('cols'),
      target: h.target.url('cols'),
      types: ['schema', 'full', 'incremental'],
      objects: { exclude: ['public.people.secret_*'], rename: { 'public.tally': 'counts' }, tables: { 'public.people': { columns: { name: 'full_name' }, excludeColumns: ['ssn'] } } },
      retry: { otherMinutes: 0.5 },
    });
    const workflowId = `ddl-cols-${Date.now()}`;
    expect((await runCli(['start', spec, '--id', workflowId], h.cliEnv)).code).toBe(0);
    await waitForPhase(h.client, workflowId, 'streaming');

    // On the renamed column: under its target name.
    await sql(`ALTER TABLE people ALTER COLUMN name SET NOT NULL; CREATE INDEX people_name_idx ON people (lower(name)); COMMENT ON COLUMN people.name IS 'who'`);
    // On left-out columns, one that a pattern leaves out as DDL adds it: skipped, and its values never reach the target.
    await sql(`ALTER TABLE people ALTER COLUMN ssn TYPE varchar(20); ALTER TABLE people ADD COLUMN secret_pin text DEFAULT 'pin'`);
    // A new column and a renamed one, with rows in the same transaction.
    await sql(`BEGIN; ALTER TABLE people ADD COLUMN nick text; UPDATE people SET nick = 'n' || id, secret_pin = 'p' || id WHERE id <= 50; ALTER TABLE people RENAME COLUMN age TO years; INSERT INTO people VALUES (501, 'new', 'ssn501', 1, 'n501', 'pin501', 'nick501'); COMMIT;`);
    // A long script of many DDL statements in one query: its text goes into the WAL once, not once per statement.
    const lsn = async () => (await h.source.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l', 'cols'))[0].l;
    const before = await lsn();
    await sql(`/* ${'x'.repeat(200_000)} */ ${Array.from({ length: 50 }, (_, i) => `COMMENT ON TABLE people IS 'note ${i}';`).join(' ')}`);
    const [{ wal }] = await h.source.query<{ wal: string }>(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '${before}')::int8 AS wal`, 'cols');
    console.log(`WAL for a 200 kB query of 50 DDL statements: ${wal} bytes`);
    expect(Number(wal)).toBeLessThan(1_000_000); // 50 copies would be 10 MB
    // SELECT INTO, given a key in its transaction: created empty on the target, then its rows copied.
    await sql(`BEGIN; SELECT id, n INTO tally_copy FROM tally WHERE id <= 5; ALTER TABLE tally_copy ADD PRIMARY KEY (id); COMMIT;`);
    // A table that objects.rename renames, renamed on the source: its new name has no rule, so the target's takes it.
    await sql(`ALTER TABLE tally RENAME TO tallies; INSERT INTO tallies VALUES (11, 11); UPDATE tallies SET n = n + 1 WHERE id <= 3`);
    await waitFor('the last change', async () => (await h.target.query(`SELECT 1 FROM tallies WHERE id = 11`, 'cols').catch(() => [])).length === 1 && (await h.target.query(`SELECT 1 FROM people WHERE id = 501`, 'cols')).length === 1, 60_000);

    const cutover = await runCli(['cutover', workflowId], h.cliEnv);
    expect(cutover.stderr).toBe('');
    expect(cutover.code).toBe(0);
    expect(cutover.stdout).toMatch(/skipped \(it is about column ssn of public\.people, which objects leaves out\): ALTER TABLE people ALTER COLUMN ssn TYPE varchar\(20\)/);
    expect(cutover.stdout).toMatch(/skipped \(it is about column secret_pin of public\.people, which objects leaves out\)/);
    expect(cutover.stdout).toContain('CREATE INDEX people_name_idx ON people (lower("full_name"))');

    const columns = await h.target.query<{ c: string }>(`SELECT attname || ' ' || attnotnull || ' ' || coalesce(col_description(attrelid, attnum), '') AS c FROM pg_attribute WHERE attrelid = 'people'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, 'cols');
    expect(columns.map((r) => r.c)).toEqual(['id true ', 'full_name true who', 'years false ', 'nick false ']);
    expect((await h.target.query<{ d: string }>(`SELECT pg_get_indexdef('people_name_idx'::regclass) AS d`, 'cols'))[0].d).toContain('lower(full_name)');
    expect(await queryChecksum(h.target, 'cols', 'SELECT id, full_name, years, nick FROM people')).toBe(await queryChecksum(h.source, 'cols', 'SELECT id, name, years, nick FROM people'));
    expect(cutover.stdout).toContain('ALTER TABLE "public"."counts" RENAME TO "tallies"');
    expect((await h.target.query<{ d: string }>(`SELECT obj_description('people'::regclass) AS d`, 'cols'))[0].d).toBe('note 49');
    expect(await queryChecksum(h.target, 'cols', 'SELECT * FROM tally_copy')).toBe(await queryChecksum(h.source, 'cols', 'SELECT * FROM tally_copy'));
    expect(await h.target.query(`SELECT to_regclass('public.counts') AS c`, 'cols')).toEqual([{ c: null }]);
    expect(await queryChecksum(h.target, 'cols', 'SELECT * FROM tallies')).toBe(await queryChecksum(h.source, 'cols', 'SELECT * FROM tallies'));
    expect(await replicationLeftovers(h.source, 'cols')).toEqual([]);
  });
});
