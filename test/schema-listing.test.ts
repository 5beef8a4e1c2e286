// Pre-data saves the schema dump's listing beside the dump, and post-data works from it: with
// every post-data object already on the target it needs neither the dump nor pg_restore (run
// here with the saved dump made unreadable), and with something left it loads the dump then.
import { MockActivityEnvironment } from '@temporalio/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ConnectionRef } from '../common/connection';
import type { ActivityDeps } from '../activities/deps';
import { makeApplyPreData } from '../activities/schema/pre-data';
import { makeApplyPostData } from '../activities/schema/post-data';
import { EarlyDumps } from '../activities/schema/schema-dump';
import { readListing } from '../activities/schema/existing-objects';
import { loadDumpInto } from '../activities/schema/step-marker';
import { startPostgres, PG_BIN, type PgCluster } from '../launch/postgres';

let source: PgCluster;
let target: PgCluster;
let tmpDir: string;
let deps: ActivityDeps;
const retry = { connectionMinutes: 1, otherMinutes: 1 };
const schema = { excludeTables: [], keepOwnership: false };
const workflowId = 'schema-listing';
const env = () => new MockActivityEnvironment({ workflowExecution: { workflowId, runId: 'run' } });
const ref = (pg: PgCluster): ConnectionRef => ({ host: pg.host, port: pg.port, database: 'app', user: 'postgres' });

beforeAll(async () => {
  [source, target] = await Promise.all([startPostgres({ name: 'listing-source' }), startPostgres({ name: 'listing-target' })]);
  await Promise.all([source.createDatabase('app'), target.createDatabase('app')]);
  await source.query(
    `CREATE TABLE parent (id int PRIMARY KEY, v text);
     CREATE TABLE child (id serial PRIMARY KEY, parent_id int REFERENCES parent, note text);
     CREATE INDEX child_parent ON child (parent_id);
     CREATE VIEW children AS SELECT c.id, p.v FROM child c JOIN parent p ON p.id = c.parent_id;`,
    'app',
  );
  tmpDir = mkdtempSync(join(tmpdir(), 'pgferry-listing-'));
  deps = { env: {}, pgBinDir: PG_BIN, tmpDir };
});

afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop()]);
  if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
});

/** Post-data's objects on the target: the keys, the index and the foreign key. */
async function postDataObjects(): Promise<string[]> {
  const rows = await target.query<{ name: string }>(
    `SELECT conname AS name FROM pg_constraint WHERE connamespace = 'public'::regnamespace
     UNION ALL SELECT indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1`,
    'app',
  );
  return rows.map((r) => r.name);
}

it('saves the listing with pre-data, and post-data reads the dump only when something is left to restore', async () => {
  // Pre-data under an exported snapshot, as a migration runs it.
  const holder: Client = await source.connect('app');
  try {
    await holder.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    const [{ snapshot }] = (await holder.query<{ snapshot: string }>('SELECT pg_export_snapshot() AS snapshot')).rows;
    await env().run(makeApplyPreData(deps, new EarlyDumps()), { source: ref(source), target: ref(target), retry, ...schema, snapshot });
  } finally {
    await holder.end();
  }

  // The saved listing is the saved dump's `pg_restore -l`, all of it and its post-data section.
  const client = await target.connect('app');
  try {
    const dumpFile = join(tmpDir, 'saved.dump');
    expect(await loadDumpInto(client, workflowId, dumpFile)).toBeDefined();
    const expected = await readListing(deps, dumpFile);
    const [saved] = (await client.query<{ all_entries: string; post_data: number[] }>('SELECT all_entries, post_data FROM _pgferry.listings WHERE workflow_id = $1', [workflowId])).rows;
    expect(saved.all_entries.split('\n')).toEqual(expected.all.map((e) => e.line));
    expect(saved.post_data).toEqual(expected.postData);
    const postDataEntries = expected.all.filter((e) => expected.postData.includes(e.dumpId));
    expect(postDataEntries.map((e) => e.desc)).toEqual(expect.arrayContaining([expect.stringMatching(/^FK CONSTRAINT public child child_parent_id_fkey/), expect.stringMatching(/^INDEX public child_parent/)]));

    const postData = () => env().run(makeApplyPostData(deps), { source: ref(source), target: ref(target), retry, ...schema, jobs: 2 });
    expect(await postDataObjects()).toEqual([]);
    expect(await postData()).toEqual({ objects: 4, skippedAsDone: 0 });
    expect(await postDataObjects()).toEqual(['child_parent', 'child_parent_id_fkey', 'child_pkey', 'child_pkey', 'parent_pkey', 'parent_pkey']);

    // Everything is there: post-data works from the listing alone, even with the dump unreadable.
    const saveDumpAside = `CREATE TABLE _pgferry.dump_aside AS SELECT dump FROM _pgferry.dumps WHERE workflow_id = '${workflowId}'`;
    await client.query(`${saveDumpAside}; UPDATE _pgferry.dumps SET dump = 'not a dump'::bytea WHERE workflow_id = '${workflowId}'`);
    expect(await postData()).toEqual({ objects: 4, skippedAsDone: 4 });

    // Something is left: post-data loads the dump, and says so when it cannot read it.
    await client.query('ALTER TABLE child DROP CONSTRAINT child_parent_id_fkey');
    await expect(postData()).rejects.toThrow(/pg_restore failed/);
    await client.query(`UPDATE _pgferry.dumps SET dump = (SELECT dump FROM _pgferry.dump_aside) WHERE workflow_id = '${workflowId}'`);
    expect(await postData()).toEqual({ objects: 4, skippedAsDone: 3 });
    expect(await postDataObjects()).toContain('child_parent_id_fkey');
  } finally {
    await client.end();
  }
});
