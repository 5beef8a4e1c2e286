// copySequences over several batches: the source reads one batch while the target sets the
// one before (seen by holding a sequence on each side); every migrated sequence ends at the
// source's value (called or not), and one the target does not have is skipped.
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { waitFor } from './support/harness';
import type { ConnectionRef } from '../common/connection';
import { makeCopySequences } from '../activities/schema/sequences';
import { startPostgres, type PgCluster } from '../launch/postgres';

const SEQUENCES = 1_234; // three batches of 500 and a short one
let source: PgCluster;
let target: PgCluster;

beforeAll(async () => {
  [source, target] = await Promise.all([startPostgres({ name: 'seq-source' }), startPostgres({ name: 'seq-target' })]);
  const create = `DO $$ BEGIN FOR i IN 1..${SEQUENCES} LOOP EXECUTE format('CREATE SEQUENCE s_%s START 5', i); END LOOP; END $$`;
  await Promise.all([source.query(create), target.query(create)]);
  // Each sequence but the first is called i times on the source; s_1 is never called.
  await source.query(`DO $$ BEGIN FOR i IN 2..${SEQUENCES} LOOP PERFORM setval(format('s_%s', i), 4 + i); END LOOP; END $$`);
  await source.query('CREATE SEQUENCE only_on_source START 7');
});

afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop()]);
});

const ref = (pg: PgCluster): ConnectionRef => ({ host: pg.host, port: pg.port, database: 'postgres', user: 'postgres' });
const copySequences = () => new MockActivityEnvironment().run(makeCopySequences({ env: {}, pgBinDir: '', tmpDir: '' }), { source: ref(source), target: ref(target), retry: { connectionMinutes: 1, otherMinutes: 1 } });

/** Whether the activity's session on this cluster waits for a lock. */
async function waitsForLock(pg: PgCluster): Promise<boolean> {
  const rows = await pg.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'pgferry sequences' AND wait_event_type = 'Lock'");
  return rows.length > 0;
}

it('reads the next batch on the source while the target sets the one before', async () => {
  // ALTER SEQUENCE holds its sequence until commit: the target's s_5 (first batch) and the
  // source's s_1100 (third batch). Both sessions wait at once only if the reads go on while a set is under way.
  const [onTarget, onSource] = await Promise.all([target.connect(), source.connect()]);
  try {
    await onTarget.query('BEGIN; ALTER SEQUENCE s_5 CACHE 1');
    await onSource.query('BEGIN; ALTER SEQUENCE s_1100 CACHE 1');
    const copied = copySequences();
    copied.catch(() => undefined); // awaited below
    await waitFor('the target to wait on s_5 while the source waits on s_1100', async () => (await waitsForLock(target)) && (await waitsForLock(source)), 20_000);
    await Promise.all([onTarget.query('COMMIT'), onSource.query('COMMIT')]);
    expect(await copied).toEqual({ sequences: SEQUENCES });
  } finally {
    await Promise.all([onTarget.end(), onSource.end()]);
  }
});

it('sets every target sequence to the source value, batch after batch', async () => {
  const result = await copySequences();
  expect(result).toEqual({ sequences: SEQUENCES });
  const values = `SELECT sequencename AS name, last_value AS value FROM pg_sequences WHERE sequencename LIKE 's\\_%' ORDER BY sequencename`;
  const [want, got] = await Promise.all([source.query(values), target.query(values)]);
  expect(got).toHaveLength(SEQUENCES);
  expect(got).toEqual(want);
  // Not called on the source: the target's next value is the start, as on the source.
  const next = 'SELECT nextval(\'s_1\') AS a, nextval(\'s_1234\') AS b';
  expect(await target.query(next)).toEqual(await source.query(next));
  expect(await target.query("SELECT to_regclass('only_on_source') AS r")).toEqual([{ r: null }]);
});
