/**
 * Values travel as text in the change stream (pgoutput formats them with the walsender's
 * settings, the target parses them with the apply session's), and validation compares each
 * side's text form of a row. Settings a DBA may give a database or role change that text:
 * DateStyle (field order), IntervalStyle (the signs of sql_standard), extra_float_digits (0
 * rounds floats to 15 digits), TimeZone and bytea_output. With the source and target set
 * differently, and lossily, every value must still arrive exact, and validation must neither
 * report a false mismatch nor miss a real one.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MigrationProgress, MigrationReport } from '../common/plan';
import type { VerificationRecord } from '../common/verification';
import { runCli, startHarness, waitFor, writeSpec, type Harness } from './support/harness';
import { replicationLeftovers } from './support/write-load';

/** The values of every row, as one text each, read under fixed settings (the test's own, not the database's). */
const ROWS_SQL = `SET DateStyle = 'ISO'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 3; SET TimeZone = 'UTC'; SET bytea_output = 'hex';
  SELECT id, concat_ws(' | ', ts, d, tz, f8, f4, iv, b, n) AS v FROM kinds ORDER BY id`;

const ROW_VALUES = (id: number) => `(${id}, '2026-01-02 03:04:05.123456', '2026-01-02', '2026-01-02 03:04:05.5+00',
  (0.1::float8 + 0.2::float8) * ${id}, 0.1::float4 * ${id}, interval '-1 day -2:03:04' * ${id}, '\\x00ff5c27'::bytea, 1.5 / ${id})`;

describe('session settings of the databases', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ name: 'settings', temporalAddress: inject('temporalAddress') });
    for (const db of ['odd', 'odd2']) await createOddDatabases(db);
  });

  /** A source and a target database that print values differently from each other, and lossily. */
  async function createOddDatabases(db: string): Promise<void> {
    await h.source.createDatabase(db);
    await h.target.createDatabase(db);
    await h.source.query(
      `ALTER DATABASE ${db} SET DateStyle = 'SQL, DMY'; ALTER DATABASE ${db} SET IntervalStyle = 'sql_standard';
       ALTER DATABASE ${db} SET extra_float_digits = 0; ALTER DATABASE ${db} SET TimeZone = 'Asia/Tokyo'; ALTER DATABASE ${db} SET bytea_output = 'escape';`,
    );
    await h.target.query(
      `ALTER DATABASE ${db} SET DateStyle = 'SQL, MDY'; ALTER DATABASE ${db} SET IntervalStyle = 'postgres_verbose';
       ALTER DATABASE ${db} SET extra_float_digits = 0; ALTER DATABASE ${db} SET TimeZone = 'America/New_York';`,
    );
    await h.source.query(
      `CREATE TABLE kinds (id int PRIMARY KEY, ts timestamp, d date, tz timestamptz, f8 float8, f4 float4, iv interval, b bytea, n numeric);
       INSERT INTO kinds VALUES ${[1, 2, 3].map(ROW_VALUES).join(', ')};`,
      db,
    );
  }

  afterAll(async () => {
    await h?.close();
  });

  /** One online verification round (pgferry verify), its record. */
  const verify = async (id: string) => JSON.parse((await runCli(['verify', id, '--json'], h.cliEnv)).stdout) as VerificationRecord;
  const status = async (id: string) => JSON.parse((await runCli(['status', id, '--json'], h.cliEnv)).stdout) as { progress?: MigrationProgress };

  it('change nothing in the values streamed, and validation compares them exactly', async () => {
    const spec = writeSpec({ source: h.source.url('odd'), target: h.target.url('odd'), types: ['schema', 'full', 'incremental'], validation: 'checksum', precheck: { ignore: ['ddl-during-migration'] } });
    const id = `settings-${Date.now()}`;
    expect((await runCli(['start', spec, '--id', id], h.cliEnv)).code).toBe(0);
    await waitFor('the stream to run', async () => (await status(id)).progress?.stream?.state === 'streaming', 60_000, 300).catch(async (e) => { const r = await runCli(['status', id], h.cliEnv); throw new Error(`${e}: ${r.stdout} ${r.stderr}`); });

    // Streamed: inserted, and updated (a row copied, then changed).
    await h.source.query(`INSERT INTO kinds VALUES ${[4, 5].map(ROW_VALUES).join(', ')}; UPDATE kinds SET f8 = f8 * 3, ts = ts + interval '1 month', iv = -iv WHERE id = 2;`, 'odd');
    const expected = await h.source.query<{ id: number; v: string }>(ROWS_SQL, 'odd');
    expect(expected[3].v).toContain('1.2000000000000002'); // the test's own reading is exact
    await waitFor('the changes to be applied', async () => JSON.stringify(await h.target.query(ROWS_SQL, 'odd')) === JSON.stringify(expected), 30_000, 200).catch(() => undefined);
    expect(await h.target.query(ROWS_SQL, 'odd')).toEqual(expected);
    // Online verification compares the same text: times printed in the source's zone on both sides.
    expect(await verify(id)).toMatchObject({ clean: true, differingChunks: 0 });

    const cutover = await runCli(['cutover', id], h.cliEnv);
    expect(cutover.code).toBe(0);
    expect(cutover.stdout).toContain('0 mismatches');
    const report = (await h.client.workflow.getHandle(id).result()) as MigrationReport;
    expect(report.validation.mismatches).toEqual([]);
    expect(report.validation.mode).toBe('checksum');
    expect(await replicationLeftovers(h.source, 'odd')).toEqual([]);
  });

  it('validation sees a value rounded away by databases that print floats short', async () => {
    const spec = writeSpec({ source: h.source.url('odd2'), target: h.target.url('odd2'), types: ['schema', 'full', 'incremental'], validation: 'checksum', precheck: { ignore: ['ddl-during-migration'] } });
    const id = `settings-check-${Date.now()}`;
    expect((await runCli(['start', spec, '--id', id], h.cliEnv)).code).toBe(0);
    await waitFor('the stream to run', async () => (await status(id)).progress?.stream?.state === 'streaming', 180_000, 300);
    // The target differs in the 17th digit only: under both databases' extra_float_digits = 0 both print 0.3.
    await h.target.query(`UPDATE kinds SET f8 = 0.3 WHERE id = 1`, 'odd2');
    expect(await verify(id)).toMatchObject({ clean: false, differingChunks: 1 });
    await runCli(['cutover', id], h.cliEnv);
    await expect(h.client.workflow.getHandle(id).result()).rejects.toMatchObject({ cause: { message: expect.stringContaining('validation failed for 1 table(s): public.kinds') } });
  });
});
