/**
 * Foreign keys added by the copy (activities/copy/early-foreign-keys.ts): a key between two
 * tables copied whole goes in with the copy of whichever of its tables comes in last, in that
 * copy's transaction, instead of in post-data after every copy. The target ends with the
 * source's keys, all checked, and post-data found every one of them there already. A key on a
 * column the migration leaves out fails in the copy, in a savepoint: the copy goes on, and
 * post-data leaves the key out, as it always did.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MigrationReport } from '../common/plan';
import { runCli, startHarness, tableChecksums, writeSpec, type Harness } from './support/harness';
import { activityResults } from './support/activity-results';

const SOURCE_SQL = `
CREATE SCHEMA shop;
CREATE TABLE shop.customers (id int PRIMARY KEY, name text);
INSERT INTO shop.customers SELECT g, 'customer ' || g FROM generate_series(1, 2000) g;
-- above 8 MB: a unit of its own, with its builds after its rows
CREATE TABLE shop.orders (id bigint PRIMARY KEY, customer_id int NOT NULL REFERENCES shop.customers (id), note text);
INSERT INTO shop.orders SELECT g, 1 + g % 2000, repeat(md5(g::text), 3) FROM generate_series(1, 90000) g;
CREATE TABLE shop.order_lines (
  order_id bigint NOT NULL, line int NOT NULL, body text,
  PRIMARY KEY (order_id, line),
  CONSTRAINT order_lines_order_fk FOREIGN KEY (order_id) REFERENCES shop.orders (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);
INSERT INTO shop.order_lines SELECT 1 + g / 3, g % 3, repeat(md5(g::text), 3) FROM generate_series(0, 269999) g;
-- a key on the table itself, and one on a pair of columns
CREATE TABLE shop.staff (id int PRIMARY KEY, manager int REFERENCES shop.staff (id), region text, UNIQUE (id, region));
INSERT INTO shop.staff SELECT g, CASE WHEN g > 1 THEN g / 2 END, 'r' || g % 3 FROM generate_series(1, 500) g;
CREATE TABLE shop.shifts (staff_id int, region text, day date, FOREIGN KEY (staff_id, region) REFERENCES shop.staff (id, region));
INSERT INTO shop.shifts SELECT g, 'r' || g % 3, date '2026-01-01' + g FROM generate_series(1, 500) g;
-- copied without customer_id: its key cannot be made on the target
CREATE TABLE shop.visits (id int PRIMARY KEY, customer_id int REFERENCES shop.customers (id));
INSERT INTO shop.visits SELECT g, 1 + g % 2000 FROM generate_series(1, 1000) g;
`;

/** Every foreign key of the database: table, name, definition and whether it is checked. */
const FOREIGN_KEYS = `
  SELECT k.conrelid::regclass::text AS tbl, k.confrelid::regclass::text AS ref, k.conname AS name,
         pg_get_constraintdef(k.oid) AS def, k.convalidated AS checked
    FROM pg_constraint k WHERE k.contype = 'f' ORDER BY 1, 3`;

type KeyRow = { tbl: string; ref: string; name: string; def: string; checked: boolean };

describe('foreign keys added by the copy', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ name: 'early-fk', temporalAddress: inject('temporalAddress') });
    await h.source.createDatabase('app');
    await h.target.createDatabase('app');
    await h.source.query(SOURCE_SQL, 'app');
  });

  afterAll(async () => {
    await h?.close();
  });

  it('adds each key in the copy of the later of its two tables; a key on a column left out stays out', async () => {
    const spec = writeSpec({
      source: h.source.url('app'),
      target: h.target.url('app'),
      parallelism: { tables: 2 },
      objects: { tables: { 'shop.visits': { columns: ['id'] } } },
      precheck: { ignore: ['tables-without-key'] },
    });
    const workflowId = `early-fk-${Date.now()}`;
    const run = await runCli(['start', spec, '--id', workflowId, '--wait', '--json'], h.cliEnv);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout).report as MigrationReport;
    expect(report.validation.mismatches).toEqual([]);
    const { 'shop.visits': visits, ...copied } = await tableChecksums(h.source, 'app');
    expect(await tableChecksums(h.target, 'app')).toMatchObject(copied);
    expect(visits).toBeDefined();
    expect(await h.target.query(`SELECT count(*)::int AS n FROM shop.visits`, 'app')).toEqual([{ n: 1000 }]);

    const sourceKeys = await h.source.query<KeyRow>(FOREIGN_KEYS, 'app');
    const targetKeys = await h.target.query<KeyRow>(FOREIGN_KEYS, 'app');
    expect(targetKeys).toEqual(sourceKeys.filter((k) => k.name !== 'visits_customer_id_fkey'));
    expect(targetKeys.map((k) => k.name).sort()).toEqual(['order_lines_order_fk', 'orders_customer_id_fkey', 'shifts_staff_id_region_fkey', 'staff_manager_fkey']);

    // Post-data restored nothing: every object of its section was there (indexes and keys built
    // by the copies, the foreign keys added by them), but the key it leaves out.
    const postData = (await activityResults(h.client.workflow.getHandle(workflowId))).get('applyPostData');
    expect(postData).toEqual({ objects: expect.any(Number), skippedAsDone: postData!.objects });
    expect(postData!.objects).toBeGreaterThanOrEqual(4 + 6); // the four keys, six tables' primary keys and unique constraints
  });
});
