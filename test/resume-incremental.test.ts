/**
 * The snapshot holder's worker killed in the middle of an incremental migration's copy, under a
 * write load: the copies finished under the lost snapshot are kept, the rest is copied under a
 * new one, and the change stream applies each table's (each key range's) changes from the
 * position of the snapshot it was read under. Split tables of every kind: by an integer key
 * (with rows moved between ranges by key updates, both ways), and by blocks for a text key and
 * for a table without a key. After cutover every table equals the source, nothing finished was
 * copied again, and no replication slot is left on the source.
 */
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MigrationReport } from '../common/plan';
import type { PgCluster } from '../launch/postgres';
import { runCli, startHarness, tableChecksums, waitFor, writeSpec, type Harness } from './support/harness';
import { replicationLeftovers } from './support/write-load';
import { progressQuery } from '../workflows/messages';

const KEYED_SQL = `
CREATE TABLE big (id bigint PRIMARY KEY, grp int NOT NULL, body text);
INSERT INTO big SELECT g * 2, g % 100, repeat(md5(g::text), 3) FROM generate_series(1, 250000) g;
CREATE TABLE small (id int PRIMARY KEY, v text);
INSERT INTO small SELECT g, 'v' || g FROM generate_series(1, 100) g;
`;

const SOURCE_SQL = `
CREATE TABLE big (id bigint PRIMARY KEY, grp int NOT NULL, body text);
INSERT INTO big SELECT g * 2, g % 100, repeat(md5(g::text), 3) FROM generate_series(1, 250000) g;
CREATE TABLE labels (code text PRIMARY KEY, title text);
INSERT INTO labels SELECT 'L' || g, repeat(md5(g::text), 3) FROM generate_series(1, 100000) g;
CREATE TABLE events_nokey (n int, payload text);
ALTER TABLE events_nokey REPLICA IDENTITY FULL;
INSERT INTO events_nokey SELECT g % 1000, repeat(md5(g::text), 3) FROM generate_series(1, 100000) g;
CREATE TABLE small (id int PRIMARY KEY, v text);
INSERT INTO small SELECT g, 'v' || g FROM generate_series(1, 100) g;
`;

/** Writes to every table until stopped, moving rows of `big` across its key ranges. */
function writeLoad(cluster: PgCluster, db: string, blockSplit: boolean): { stop(): Promise<number> } {
  let running = true;
  let committed = 0;
  const loop = (async () => {
    const c = new Client({ host: cluster.host, port: cluster.port, user: cluster.user, database: db });
    c.on('error', () => undefined); // the cluster stops at the end
    await c.connect();
    const r = (n: number) => 1 + Math.floor(Math.random() * n);
    for (let i = 0; running; i += 1) {
      try {
        await c.query('BEGIN');
        await c.query('INSERT INTO big VALUES ($1, $2, $3)', [10_000_000 + i, i % 100, `new ${i}`]);
        await c.query('UPDATE big SET grp = grp + 1 WHERE id = $1', [2 * r(250000)]);
        await c.query('DELETE FROM big WHERE id = $1', [2 * r(250000)]);
        // A row moved to the first range, and one to the last: across ranges read under different snapshots.
        if (i % 3 === 0) await c.query('UPDATE big SET id = -id WHERE id = $1', [2 * r(250000)]);
        if (i % 3 === 1) await c.query('UPDATE big SET id = 20000000 + id WHERE id = $1', [2 * r(250000)]);
        if (blockSplit) await blockSplitWrites(c, i, r);
        await c.query(`UPDATE small SET v = v || '.' WHERE id = $1`, [r(100)]);
        await c.query('COMMIT');
        committed += 1;
      } catch {
        await c.query('ROLLBACK').catch(() => undefined);
      }
      await new Promise((res) => setTimeout(res, 5));
    }
    await c.end();
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return committed;
    },
  };
}

async function blockSplitWrites(c: Client, i: number, r: (n: number) => number): Promise<void> {
        await c.query(`INSERT INTO labels VALUES ($1, 'new') ON CONFLICT DO NOTHING`, [`N${i}`]);
        await c.query(`UPDATE labels SET title = title || '+' WHERE code = $1`, [`L${r(100000)}`]);
        await c.query('DELETE FROM labels WHERE code = $1', [`L${r(100000)}`]);
        await c.query(`INSERT INTO events_nokey VALUES ($1, 'new'), ($1, 'new')`, [i % 1000]);
        await c.query(`UPDATE events_nokey SET n = n + 1000 WHERE ctid = (SELECT ctid FROM events_nokey WHERE n = $1 LIMIT 1)`, [r(999)]);
        await c.query(`DELETE FROM events_nokey WHERE ctid = (SELECT ctid FROM events_nokey WHERE n = $1 LIMIT 1)`, [r(999)]);
}

describe('snapshot holder lost during an incremental copy', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ name: 'resume-cdc', temporalAddress: inject('temporalAddress') });
    for (const [db, sql] of [['app', SOURCE_SQL], ['keyed', KEYED_SQL]]) {
      await h.source.createDatabase(db);
      await h.target.createDatabase(db);
      await h.source.query(sql, db);
      await h.source.query('VACUUM ANALYZE', db);
    }
  });

  afterAll(async () => {
    await h?.close();
  });

  /** An incremental migration of `db` under a write load, its only worker (the snapshot holder's) killed once some chunks are in; cut over once it streams. */
  async function killDuringCopy(db: string): Promise<{ report: MigrationReport; workflowId: string; streamInput: StreamInput }> {
    const spec = writeSpec({
      source: h.source.url(db),
      target: h.target.url(db),
      types: ['schema', 'full', 'incremental'],
      parallelism: { tables: 3 },
      copy: { splitLargerThan: '8MB' },
      validation: 'checksum',
      throttle: { full: { mbPerSecond: 12 } }, // a few seconds per chunk: time to kill the worker in the middle
      precheck: { ignore: ['tables-without-key', 'ddl-during-migration'] },
    });
    const load = writeLoad(h.source, db, db === 'app');
    const workflowId = `resume-cdc-${db}-${Date.now()}`;
    expect((await runCli(['start', spec, '--id', workflowId], h.cliEnv)).code).toBe(0);
    const handle = h.client.workflow.getHandle(workflowId);

    // The only worker holds the snapshot: kill it once some chunks are in and others are not.
    const committed = async () => Number((await h.target.query<{ n: string }>(`SELECT count(*) AS n FROM _pgferry.units`, db).catch(() => [{ n: '0' }]))[0].n);
    await waitFor(
      'some chunks committed',
      async () => {
        const { phase, warnings } = await handle.query(progressQuery);
        if (phase === 'failed') throw new Error(`the migration failed: ${warnings.join('; ')}`);
        return (await committed()) >= 3;
      },
      120_000,
      100,
    );
    const atKill = await handle.query(progressQuery);
    expect(atKill.phase).toBe('data');
    await h.worker.kill('SIGKILL');
    await h.restartWorker();

    await waitFor('the stream to run', async () => (await handle.query(progressQuery)).phase === 'streaming', 240_000, 200);
    await new Promise((r) => setTimeout(r, 3_000)); // changes streamed live too
    const writes = await load.stop();
    expect(writes).toBeGreaterThan(50);
    const cutover = await runCli(['cutover', workflowId], h.cliEnv);
    expect(cutover.stderr).toBe('');
    expect(cutover.code).toBe(0);
    const report = (await handle.result()) as MigrationReport;
    expect(report.validation.mismatches).toEqual([]);
    expect(report.cutover?.validation.mismatches).toEqual([]);
    expect(await tableChecksums(h.target, db)).toEqual(await tableChecksums(h.source, db));

    const streamStart = (await h.client.workflow.getHandle(`${workflowId}/stream`).fetchHistory()).events![0].workflowExecutionStartedEventAttributes!.input!.payloads![0].data!;
    const streamInput = JSON.parse(Buffer.from(streamStart).toString()) as StreamInput;
    expect(await replicationLeftovers(h.source, db)).toEqual([]);
    const [moved] = await h.target.query<{ n: string }>('SELECT count(*) AS n FROM big WHERE id < 0 OR id >= 20000000', db);
    expect(Number(moved.n)).toBeGreaterThan(0);
    return { report, workflowId, streamInput };
  }

  it('with tables split by blocks not all copied: starts the copy again, keeping the finished copies, and ends exact after cutover', async () => {
    const { report, workflowId, streamInput } = await killDuringCopy('app');
    // Kept, and said so; only what was in flight (a unit per lane at most) was read again.
    expect(report.warnings.join('\n')).toMatch(/snapshot .* was lost .*: the copies finished under it are kept \(the change stream applies their changes from its position\); copied again: [0-3] tables/);
    expect(report.redone?.tables ?? 0).toBeLessThanOrEqual(3);
    expect(report.redone?.bytes ?? 0).toBeLessThan(report.totalBytes / 2);
    const units = async (id: string) => {
      const history = await h.client.workflow.getHandle(id).fetchHistory();
      const input = history.events![0].workflowExecutionStartedEventAttributes!.input!.payloads![0].data!;
      return (JSON.parse(Buffer.from(input).toString()) as { units: unknown[] }).units.length;
    };
    expect(await units(`${workflowId}/copy-2`)).toBeLessThan(await units(`${workflowId}/copy-1`));
    // The stream started from the first snapshot's slot with a plan for what was read under the second.
    // big's first chunks (the biggest units go first) were in before the kill, its last ones not: judged per key range.
    expect(streamInput.syncPlan?.tables.find((t) => t.name === 'big')?.ranges?.length).toBeGreaterThan(1);
    expect(streamInput.slot).toMatch(/1$/);
  });

  it('with tables split by key only: goes on under the new snapshot, and ends exact after cutover', async () => {
    const { report, workflowId, streamInput } = await killDuringCopy('keyed');
    expect(report.warnings.join('\n')).toMatch(/snapshot .* was lost .*: what was read under it is kept \(the change stream applies its changes from its position\); the copy went on under /);
    expect(report.redone?.tables ?? 0).toBeLessThanOrEqual(3);
    const runs: string[] = [];
    for await (const w of h.client.workflow.list({ query: `WorkflowId STARTS_WITH "${workflowId}/copy-"` })) runs.push(w.workflowId);
    expect(runs).toEqual([`${workflowId}/copy-1`]);
    expect(streamInput.syncPlan?.tables.find((t) => t.name === 'big')?.ranges?.length).toBeGreaterThan(1);
    expect(streamInput.slot).toMatch(/1$/);
  });
});

type StreamInput = { slot: string; syncPlan?: { tables: Array<{ name: string; ranges?: unknown[] }> } };
