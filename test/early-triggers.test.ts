/**
 * Triggers created by the copy (activities/copy/early-triggers.ts): each table's triggers go in
 * with its copy, after its rows, instead of in post-data after every copy. The target ends with
 * the source's triggers, none of them fired by the copy (each would change the rows), and
 * post-data found them there already, but the disabled one, which it restores as before.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MigrationReport } from '../common/plan';
import { runCli, startHarness, tableChecksums, writeSpec, type Harness } from './support/harness';
import { activityResults } from './support/activity-results';

const SOURCE_SQL = `
CREATE SCHEMA shop;
CREATE FUNCTION shop.stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.note := 'stamped by ' || TG_NAME; RETURN NEW; END $$;
CREATE FUNCTION shop.refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '% fired', TG_NAME; END $$;
-- above 8 MB: a unit of its own, with its builds after its rows
CREATE TABLE shop.orders (id bigint PRIMARY KEY, note text);
INSERT INTO shop.orders SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 90000) g;
CREATE TRIGGER orders_stamp BEFORE INSERT OR UPDATE ON shop.orders FOR EACH ROW EXECUTE FUNCTION shop.stamp();
CREATE TRIGGER orders_no_truncate BEFORE TRUNCATE ON shop.orders FOR EACH STATEMENT EXECUTE FUNCTION shop.refuse();
-- small tables: their statements ride in the COPY's query
CREATE TABLE shop.notes (id int PRIMARY KEY, note text);
INSERT INTO shop.notes SELECT g, 'note ' || g FROM generate_series(1, 100) g;
CREATE TRIGGER notes_stamp BEFORE INSERT ON shop.notes FOR EACH ROW WHEN (NEW.id > 0) EXECUTE FUNCTION shop.stamp();
CREATE TRIGGER notes_refuse AFTER INSERT ON shop.notes REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION shop.refuse();
-- disabled: pg_dump writes it with an ALTER TABLE, post-data restores it
CREATE TABLE shop.drafts (id int PRIMARY KEY, note text);
INSERT INTO shop.drafts SELECT g, 'draft ' || g FROM generate_series(1, 100) g;
CREATE TRIGGER drafts_stamp BEFORE UPDATE ON shop.drafts FOR EACH ROW EXECUTE FUNCTION shop.stamp();
ALTER TABLE shop.drafts DISABLE TRIGGER drafts_stamp;
`;

/** Every trigger of the database (not the ones keys make): table, name, definition and state. */
const TRIGGERS = `
  SELECT t.tgrelid::regclass::text AS tbl, t.tgname AS name, pg_get_triggerdef(t.oid) AS def, t.tgenabled AS enabled
    FROM pg_trigger t WHERE NOT t.tgisinternal ORDER BY 1, 2`;

describe('triggers created by the copy', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ name: 'early-triggers', temporalAddress: inject('temporalAddress') });
    await h.source.createDatabase('app');
    await h.target.createDatabase('app');
    await h.source.query(SOURCE_SQL, 'app');
  });

  afterAll(async () => {
    await h?.close();
  });

  it("creates each table's triggers after its rows; a disabled one is left to post-data", async () => {
    const spec = writeSpec({ source: h.source.url('app'), target: h.target.url('app'), parallelism: { tables: 2 } });
    const workflowId = `early-triggers-${Date.now()}`;
    const run = await runCli(['start', spec, '--id', workflowId, '--wait', '--json'], h.cliEnv);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout).report as MigrationReport;
    expect(report.validation.mismatches).toEqual([]);
    // No trigger fired for the copy: each would have stamped or refused the rows.
    expect(await tableChecksums(h.target, 'app')).toEqual(await tableChecksums(h.source, 'app'));
    const sourceTriggers = await h.source.query(TRIGGERS, 'app');
    expect(sourceTriggers).toHaveLength(5);
    expect(await h.target.query(TRIGGERS, 'app')).toEqual(sourceTriggers);

    // Post-data restored only the disabled trigger: the rest (keys, enabled triggers) was there.
    const postData = (await activityResults(h.client.workflow.getHandle(workflowId))).get('applyPostData');
    expect(postData).toEqual({ objects: 3 + 5, skippedAsDone: 3 + 4 });
  });
});
