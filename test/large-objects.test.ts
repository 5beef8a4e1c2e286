/**
 * Large objects, end to end: contents copied byte for byte (empty, tiny, a few MB, and one of
 * many pieces and checkpoints) with their owners, comments and grants; through a worker killed
 * in the middle of the big one (the snapshot dies with it: everything is read again under a
 * new one) and a copy connection cut in the middle (the copy goes on from its last commit);
 * left out on request; and in an incremental migration, brought up to date at cutover.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { defaultPayloadConverter } from '@temporalio/common';
import type { LargeObjectCopyResult } from '../common/large-objects';
import type { MigrationProgress, MigrationReport } from '../common/plan';
import type { PgCluster } from '../launch/postgres';
import { runCli, startHarness, tableChecksums, waitFor, writeSpec, type Harness } from './support/harness';
import { progressQuery } from '../workflows/messages';

const MB = 1024 * 1024;
/** Pieces of the big object: each 1 MiB piece is distinct, so a piece out of place shows. */
const BIG_MB = 150;
const BIG_OID = 3003;

const ROLES_SQL = `CREATE ROLE lo_owner; CREATE ROLE lo_reader;`;

const SOURCE_SQL = `
CREATE TABLE docs (id int PRIMARY KEY, title text, content oid);
SELECT lo_from_bytea(1001, ''::bytea);
SELECT lo_from_bytea(1002, 'gone'::bytea); -- unlinked while the first snapshot is lost
SELECT lo_from_bytea(424242, 'a large object that pg_dump would carry'::bytea);
SELECT lo_from_bytea(2002, decode(repeat(md5('few'), 3 * 65536 + 100), 'hex'));
SELECT lo_create(${BIG_OID});
SELECT lo_put(${BIG_OID}, i::int8 * ${MB}, decode(repeat(md5(i::text), 65536), 'hex')) FROM generate_series(0, ${BIG_MB - 1}) i;
ALTER LARGE OBJECT ${BIG_OID} OWNER TO lo_owner;
COMMENT ON LARGE OBJECT 424242 IS 'the one from the issue';
GRANT SELECT ON LARGE OBJECT 424242 TO lo_reader;
GRANT SELECT, UPDATE ON LARGE OBJECT 2002 TO lo_reader WITH GRANT OPTION;
INSERT INTO docs VALUES (1, 'empty', 1001), (2, 'issue', 424242), (3, 'few', 2002), (4, 'big', ${BIG_OID});
`;

interface ObjectState {
  oid: string;
  size: string;
  md5: string;
  owner: string;
  acl: string | null;
  comment: string | null;
}

/** Every large object: size, md5 of its bytes, owner, grants and comment. */
async function largeObjects(cluster: PgCluster, db: string): Promise<ObjectState[]> {
  return cluster.query<ObjectState>(
    `SELECT m.oid::text AS oid, length(lo_get(m.oid))::text AS size, md5(lo_get(m.oid)) AS md5, m.lomowner::regrole::text AS owner,
            m.lomacl::text AS acl, obj_description(m.oid, 'pg_largeobject') AS comment
       FROM pg_largeobject_metadata m ORDER BY m.oid`,
    db,
  );
}

/** Bytes the target has committed of the big object under a snapshot other than `not` (0 before). */
async function bigObjectCommitted(h: Harness, db: string, not: string): Promise<number> {
  const rows = await h.target.query<{ copied: string }>(`SELECT copied FROM _pgferry.large_objects WHERE oid = ${BIG_OID} AND snapshot <> $1`, db, [not]).catch(() => []);
  return rows.length ? Number(rows[0].copied) : 0;
}

/** The results of the large-object copy activities, from the copy child workflows' histories. */
async function copyResults(h: Harness, workflowId: string): Promise<LargeObjectCopyResult[]> {
  const results: LargeObjectCopyResult[] = [];
  for await (const w of h.client.workflow.list({ query: `WorkflowId STARTS_WITH "${workflowId}/copy-"` })) {
    const history = await h.client.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
    const scheduled = new Map<string, string>();
    for (const e of history.events ?? []) {
      const s = e.activityTaskScheduledEventAttributes;
      if (s) scheduled.set(String(e.eventId), s.activityType?.name ?? '');
      const done = e.activityTaskCompletedEventAttributes;
      if (done && scheduled.get(String(done.scheduledEventId)) === 'copyLargeObjects') {
        results.push(defaultPayloadConverter.fromPayload<LargeObjectCopyResult>(done.result!.payloads![0]));
      }
    }
  }
  return results;
}

describe('large objects', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ name: 'lo', temporalAddress: inject('temporalAddress') });
    await h.source.query(ROLES_SQL);
    await h.target.query(ROLES_SQL);
    await h.source.createDatabase('app');
    await h.source.query(SOURCE_SQL, 'app');
  });

  afterAll(async () => {
    await h?.close();
  });

  it('copies every large object byte for byte with its owner, comment and grants, through a killed worker and a cut connection', async () => {
    await h.target.createDatabase('app');
    // The copy is throttled so that the big object takes several seconds: time to interfere.
    const spec = writeSpec({ source: h.source.url('app'), target: h.target.url('app'), validation: 'checksum', throttle: { full: { mbPerSecond: 25 } } });
    const precheck = await runCli(['precheck', spec, '--json'], h.cliEnv);
    const item = (JSON.parse(precheck.stdout) as { items: Array<{ id: string; status: string; title: string }> }).items.find((i) => i.id === 'large-objects');
    expect(item).toMatchObject({ status: 'pass' });
    expect(item!.title).toMatch(/^5 large object\(s\), 15\d\.\d MB in all/);

    const workflowId = `lo-full-${Date.now()}`;
    expect((await runCli(['start', spec, '--id', workflowId], h.cliEnv)).code).toBe(0);
    const handle = h.client.workflow.getHandle(workflowId);

    // 1. Kill the worker in the middle of the big object: the exported snapshot dies with it.
    const copying = `SELECT 1 FROM pg_stat_activity WHERE application_name = 'pgferry large objects'`;
    await waitFor('the large objects under way', async () => (await h.source.query(copying)).length > 0, 120_000, 50);
    const copiedGone = `SELECT 1 FROM _pgferry.large_objects WHERE oid = 1002 AND done`;
    await waitFor('object 1002 copied', async () => (await h.target.query(copiedGone, 'app')).length > 0, 30_000, 50);
    await new Promise((r) => setTimeout(r, 1_500)); // ~35 MB in at 25 MB/s: before the first checkpoint
    const status = JSON.parse((await runCli(['status', workflowId, '--json'], h.cliEnv)).stdout) as { progress: MigrationProgress };
    expect(status.progress.phase).toBe('data');
    expect(status.progress.largeObjects).toMatchObject({ objects: 5, bytes: BIG_MB * MB + 39 + 3 * 65536 * 16 + 1600 + 4 });
    const firstSnapshot = status.progress.snapshot!;
    await h.worker.kill('SIGKILL');
    // Between the two snapshots, an object that the first copy may have copied goes away.
    await h.source.query('SELECT lo_unlink(1002)', 'app');
    await h.restartWorker();

    // 2. Under the new snapshot: once the big object has committed a checkpoint, cut its copy's
    //    source connection. The retry goes on from that checkpoint.
    await waitFor('a checkpoint of the big object under the new snapshot', async () => (await bigObjectCommitted(h, 'app', firstSnapshot)) >= 64 * MB, 180_000, 100);
    const cut = await h.source.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgferry large objects'`);
    expect(cut.length).toBeGreaterThan(0);

    const report = (await handle.result()) as MigrationReport;
    // The cut failed the copy activity, not the worker process: the same worker finished.
    expect(() => process.kill(h.worker.pid, 0)).not.toThrow();
    expect(report.warnings.join('\n')).toContain('snapshot');
    expect(report.largeObjects).toMatchObject({ objects: 4, copiedObjects: 4, bytes: BIG_MB * MB + 39 + 3 * 65536 * 16 + 1600 });
    expect(report.largeObjects?.validation).toMatchObject({ mode: 'checksum', ok: true, expectedObjects: 4, actualObjects: 4, mismatches: [] });
    const resumed = (await copyResults(h, workflowId)).reduce((s, r) => s + r.resumedBytes, 0);
    expect(resumed).toBeGreaterThanOrEqual(64 * MB);

    const source = await largeObjects(h.source, 'app');
    expect(source.map((o) => [o.oid, o.size])).toEqual([['1001', '0'], ['2002', String(3 * 65536 * 16 + 1600)], [String(BIG_OID), String(BIG_MB * MB)], ['424242', '39']]);
    expect(await largeObjects(h.target, 'app')).toEqual(source);
    expect(await tableChecksums(h.target, 'app')).toEqual(await tableChecksums(h.source, 'app'));
    expect(await h.target.query(`SELECT 1 FROM pg_namespace WHERE nspname = '_pgferry'`, 'app')).toEqual([]);

    const text = await runCli(['status', workflowId], h.cliEnv);
    expect(text.stdout).toMatch(/large objects 4\/4 copied .* validated \(checksum\): 4 equal/);
  });

  it('leaves large objects out on request, and keeps them with a table selection', async () => {
    await h.target.createDatabase('without');
    await h.target.createDatabase('selected');
    const without = writeSpec({ source: h.source.url('app'), target: h.target.url('without'), objects: { largeObjects: false } });
    const run = await runCli(['start', without, '--wait', '--json'], h.cliEnv);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).report.largeObjects).toBeUndefined();
    expect(await largeObjects(h.target, 'without')).toEqual([]);
    expect(await tableChecksums(h.target, 'without')).toEqual(await tableChecksums(h.source, 'app'));

    const selected = writeSpec({ source: h.source.url('app'), target: h.target.url('selected'), objects: { include: ['public.docs'] } });
    expect((await runCli(['start', selected, '--wait'], h.cliEnv)).code).toBe(0);
    expect(await largeObjects(h.target, 'selected')).toEqual(await largeObjects(h.source, 'app'));
  });

  it('brings the target up to the source at cutover: objects created, changed, unlinked, and their owners, comments and grants', async () => {
    await h.source.createDatabase('live');
    await h.source.query(
      `CREATE TABLE notes (id int PRIMARY KEY, body oid);
       SELECT lo_from_bytea(5001, 'version 1'::bytea);
       SELECT lo_from_bytea(5002, 'to be unlinked'::bytea);
       SELECT lo_from_bytea(5003, decode(repeat(md5('two pieces'), 65536 + 1), 'hex'));
       COMMENT ON LARGE OBJECT 5001 IS 'first';
       INSERT INTO notes VALUES (1, 5001), (2, 5002), (3, 5003);`,
      'live',
    );
    await h.target.createDatabase('live');
    const base = { source: h.source.url('live'), target: h.target.url('live'), types: ['schema', 'full', 'incremental'] };
    // Logical decoding does not carry large objects: the precheck says so, and what happens at cutover.
    // A note: cutover brings them over exactly; it costs downtime, which the note states.
    const unacknowledged = await runCli(['precheck', writeSpec(base), '--json'], h.cliEnv);
    const check = JSON.parse(unacknowledged.stdout) as { proceeds: boolean; items: Array<{ id: string; status: string; title: string; advice: string }> };
    expect(check.proceeds).toBe(true);
    const warning = check.items.find((i) => i.id === 'large-objects-stream')!;
    expect(warning.status).toBe('note');
    expect(warning.title).toMatch(/^3 large object\(s\) \(1\.0 MB\): logical decoding does not carry large-object changes/);
    expect(warning.advice).toMatch(/at cutover, .* compares every large object/);

    const spec = writeSpec({ ...base, precheck: { ignore: ['ddl-during-migration', 'large-objects-stream'] } });
    const workflowId = `lo-cdc-${Date.now()}`;
    expect((await runCli(['start', spec, '--id', workflowId], h.cliEnv)).code).toBe(0);
    const handle = h.client.workflow.getHandle(workflowId);
    await waitFor('the stream to run', async () => (await handle.query(progressQuery)).phase === 'streaming', 180_000, 200);
    expect(await largeObjects(h.target, 'live')).toEqual(await largeObjects(h.source, 'live'));

    // While it streams: every kind of large-object change on the source, one of the target's
    // objects cut short behind pgferry's back, and an ordinary row that the stream carries.
    await h.source.query(
      `SELECT lo_put(5001, 8, '2'::bytea);
       SELECT lo_unlink(5002);
       SELECT lo_from_bytea(5004, 'created while streaming'::bytea);
       COMMENT ON LARGE OBJECT 5001 IS 'second';
       ALTER LARGE OBJECT 5003 OWNER TO lo_owner;
       GRANT SELECT ON LARGE OBJECT 5003 TO lo_reader;
       INSERT INTO notes VALUES (4, 5004);`,
      'live',
    );
    // Metadata of an object the target does not have yet (created while streaming): the cutover brings it.
    await h.source.query(
      `COMMENT ON LARGE OBJECT 5004 IS 'new one';
       GRANT SELECT ON LARGE OBJECT 5004 TO lo_reader;`,
      'live',
    );
    await h.target.query(`SELECT lo_close(fd) FROM (SELECT lo_open(5003, x'20000'::int) AS fd OFFSET 0) s, LATERAL (SELECT lo_truncate(s.fd, 10) OFFSET 0) t`, 'live');

    const cutover = await runCli(['cutover', workflowId], h.cliEnv);
    expect(cutover.stderr).toBe('');
    expect(cutover.code).toBe(0);
    // The data of large objects is not carried by the stream; their metadata changes are DDL,
    // replicated as they happen (COMMENT, ALTER ... OWNER, GRANT on objects the target has).
    expect(cutover.stdout).toMatch(/Large objects \(not carried by the stream\): 3 compared in \d+\.\d+ s; 1 created, 2 copied again, 1 unlinked, 1 with owner\/comment\/grants updated/);
    expect(cutover.stdout).toMatch(/DDL replicated from the source: 3 applied, 2 skipped/);
    expect(cutover.stdout).toMatch(/skipped \(the large object is not on the target yet: the cutover brings it, with its owner, comment and grants\): COMMENT ON LARGE OBJECT 5004/);
    const report = (await handle.result()) as MigrationReport;
    expect(report.cutover?.largeObjects?.validation).toMatchObject({ ok: true, expectedObjects: 3, actualObjects: 3, mismatches: [] });
    const source = await largeObjects(h.source, 'live');
    expect(source.map((o) => o.oid)).toEqual(['5001', '5003', '5004']);
    expect(await largeObjects(h.target, 'live')).toEqual(source);
    expect(await tableChecksums(h.target, 'live')).toEqual(await tableChecksums(h.source, 'live'));
  });

  it('fails the precheck, naming them, when the source user may not read some large objects', async () => {
    await h.source.query(`CREATE ROLE lo_app LOGIN; GRANT SELECT ON docs TO lo_app; GRANT SELECT ON LARGE OBJECT 2002 TO lo_app;`, 'app');
    const source = h.source.url('app').replace('postgres@', 'lo_app@');
    const run = await runCli(['precheck', writeSpec({ source, target: h.target.url('unread') }), '--json'], h.cliEnv);
    expect(run.code).toBe(1);
    const item = (JSON.parse(run.stdout) as { items: Array<{ id: string; status: string; title: string; advice: string }> }).items.find((i) => i.id === 'large-objects')!;
    expect(item.status).toBe('fail');
    expect(item.title).toBe(`The source user may not read 3 of the 4 large objects: 1001, ${BIG_OID}, 424242.`);
    expect(item.advice).toContain('GRANT SELECT ON LARGE OBJECT');
  });

  it('refuses, changing nothing, when the target already uses an oid of the source', async () => {
    await h.target.createDatabase('taken');
    await h.target.query(`SELECT lo_from_bytea(2002, 'theirs'::bytea)`, 'taken');
    const spec = writeSpec({ source: h.source.url('app'), target: h.target.url('taken') });
    const run = await runCli(['start', spec, '--wait'], h.cliEnv);
    expect(run.code).toBe(1);
    expect(run.stdout + run.stderr).toMatch(/large objects already exist in the target with the same oids: 2002/);
    expect(await h.target.query(`SELECT encode(lo_get(2002), 'escape') AS v`, 'taken')).toEqual([{ v: 'theirs' }]);
    expect(await h.target.query(`SELECT relname FROM pg_class WHERE relname = 'docs'`, 'taken')).toEqual([]);
  });
});
