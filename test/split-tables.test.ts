/**
 * Big tables copied as chunks in parallel (copy.splitLargerThan): by integer key ranges, and by
 * block ranges for a table without a key and one with a text key; with a row filter, an
 * excluded column and a rename on split tables; through a worker (the snapshot holder's) killed
 * in the middle of the chunks: the chunks finished under the lost snapshot are kept. The target equals the source, the indexes and keys are built once per table after
 * its chunks, and each chunk was its own activity.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MigrationReport } from '../common/plan';
import { queryChecksum, runCli, startHarness, tableChecksums, waitFor, writeSpec, type Harness } from './support/harness';
import { progressQuery } from '../workflows/messages';

const SOURCE_SQL = `
CREATE TABLE orders (id bigint PRIMARY KEY, customer int NOT NULL, body text, note text);
INSERT INTO orders SELECT g * 3, g % 1000, repeat(md5(g::text), 3), 'n' || g FROM generate_series(1, 200000) g;
CREATE INDEX orders_customer_idx ON orders (customer);
CREATE TABLE events_nokey (n int, payload text);
INSERT INTO events_nokey SELECT g % 1000, repeat(md5(g::text), 2) FROM generate_series(1, 150000) g;
INSERT INTO events_nokey SELECT g % 1000, repeat(md5(g::text), 2) FROM generate_series(1, 1000) g; -- duplicate rows
CREATE INDEX events_n_idx ON events_nokey (n);
CREATE TABLE labels (code text PRIMARY KEY, title text);
INSERT INTO labels SELECT 'L' || g, repeat(md5(g::text), 2) FROM generate_series(1, 120000) g;
CREATE TABLE small (id int PRIMARY KEY, v text);
INSERT INTO small SELECT g, 'v' || g FROM generate_series(1, 100) g;
`;

describe('split tables', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ name: 'split', temporalAddress: inject('temporalAddress') });
    await h.source.createDatabase('app');
    await h.target.createDatabase('app');
    await h.source.query(SOURCE_SQL, 'app');
    await h.source.query('VACUUM ANALYZE', 'app');
  });

  afterAll(async () => {
    await h?.close();
  });

  it('copies big tables as chunks, by key and by blocks, through a killed worker, exactly', async () => {
    const spec = writeSpec({
      source: h.source.url('app'),
      target: h.target.url('app'),
      parallelism: { tables: 3 },
      copy: { splitLargerThan: '8MB' },
      validation: 'checksum',
      throttle: { full: { mbPerSecond: 10 } }, // time to kill the worker between chunks
      objects: { tables: { 'public.orders': { where: 'id % 7 <> 0', excludeColumns: ['note'] }, 'public.labels': { rename: 'tags' } } },
      precheck: { ignore: ['tables-without-key'] },
    });
    const workflowId = `split-${Date.now()}`;
    expect((await runCli(['start', spec, '--id', workflowId], h.cliEnv)).code).toBe(0);
    const handle = h.client.workflow.getHandle(workflowId);

    // Kill the worker once some chunks have committed and others have not.
    const committed = async () => (await h.target.query<{ n: string }>(`SELECT count(*) AS n FROM _pgferry.units`, 'app').catch(() => [{ n: '0' }]))[0].n;
    await waitFor('some chunks committed', async () => Number(await committed()) >= 2, 120_000, 100);
    const atKill = await handle.query(progressQuery);
    expect(atKill.phase).toBe('data');
    const orders = atKill.tables.find((t) => t.name === 'orders')!;
    expect(orders.state).toBe('copying');
    await h.worker.kill('SIGKILL');
    await h.restartWorker();

    const report = (await handle.result()) as MigrationReport;
    expect(report.validation.mismatches).toEqual([]);
    expect(report.tables.find((t) => t.name === 'orders')).toMatchObject({ rows: 200000 - Math.floor(200000 / 7) });

    const target = await tableChecksums(h.target, 'app');
    const source = await tableChecksums(h.source, 'app');
    expect(target['public.events_nokey']).toBe(source['public.events_nokey']);
    expect(target['public.tags']).toBe(source['public.labels']);
    expect(target['public.small']).toBe(source['public.small']);
    expect(target['public.orders']).toBe(await queryChecksum(h.source, 'app', 'SELECT id, customer, body FROM orders WHERE id % 7 <> 0'));

    // Keys and indexes, built once the chunks were in; statistics too.
    const indexes = await h.target.query<{ i: string }>(`SELECT indexrelid::regclass::text AS i FROM pg_index WHERE indrelid IN ('orders'::regclass, 'events_nokey'::regclass, 'tags'::regclass) ORDER BY 1`, 'app');
    expect(indexes.map((r) => r.i)).toEqual(['events_n_idx', 'labels_pkey', 'orders_customer_idx', 'orders_pkey']);
    const analyzed = await h.target.query<{ relname: string }>(`SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL ORDER BY 1`, 'app');
    expect(analyzed.map((r) => r.relname)).toEqual(expect.arrayContaining(['events_nokey', 'orders', 'tags']));

    // Each chunk was an activity of its own. The restarted data phase (the source took no writes)
    // kept every unit finished under the lost snapshot: only those in flight ran twice.
    const runs = new Map<string, { scheduled: string[]; unitsDone: number; units: number }>();
    for await (const w of h.client.workflow.list({ query: `WorkflowId STARTS_WITH "${workflowId}/copy-"` })) {
      const history = await h.client.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
      const run = { scheduled: [] as string[], unitsDone: 0, units: 0 };
      const names = new Map<string, string>();
      for (const e of history.events ?? []) {
        const input = e.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
        if (input) run.units = (JSON.parse(Buffer.from(input).toString()) as { units: unknown[] }).units.length;
        const s = e.activityTaskScheduledEventAttributes;
        if (s) {
          run.scheduled.push(s.activityType!.name!);
          names.set(String(e.eventId), s.activityType!.name!);
        }
        const done = e.activityTaskCompletedEventAttributes;
        if (done && names.get(String(done.scheduledEventId)) === 'copyUnit') run.unitsDone += 1;
      }
      runs.set(w.workflowId.split('/')[1], run);
    }
    // The copy went on under the new snapshot (the source took no writes): one data phase, each
    // unit completed once, and only the units the killed worker was running were scheduled again.
    expect([...runs.keys()]).toEqual(['copy-1']);
    const copy = runs.get('copy-1')!;
    expect(copy.unitsDone).toBe(copy.units);
    const again = copy.scheduled.filter((a) => a === 'copyUnit').length - copy.units;
    expect(again).toBeGreaterThanOrEqual(1);
    expect(again).toBeLessThanOrEqual(3);
    expect(copy.scheduled.filter((a) => a === 'finishSplitTable')).toHaveLength(3);
    expect(report.warnings.join('\n')).toMatch(/nothing was committed on the source since, so what was read under it is kept; the copy went on under/);
    expect(report.redone?.tables).toBe(again);
    // What is read again: the units in flight (at most one per lane), nothing finished.
    expect(report.redone?.tables ?? 0).toBeLessThanOrEqual(3);
    // (bytes: the dead attempts' last heartbeats) — at most those units, far less than all copied
    expect(report.redone?.bytes ?? 0).toBeLessThan(report.totalBytes / 2);
  });
});
