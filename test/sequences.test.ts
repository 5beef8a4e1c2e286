// copySequences over several batches: the source reads one batch while the target sets the
// one before; every migrated sequence ends at the source's value (called or not), and one the
// target does not have is skipped.
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
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

it('sets every target sequence to the source value, batch after batch', async () => {
  const ref = (pg: PgCluster): ConnectionRef => ({ host: pg.host, port: pg.port, database: 'postgres', user: 'postgres' });
  const copy = makeCopySequences({ env: {}, pgBinDir: '', tmpDir: '' });
  const result = await new MockActivityEnvironment().run(copy, { source: ref(source), target: ref(target), retry: { connectionMinutes: 1, otherMinutes: 1 } });
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
