/**
 * Runtime control of a migration against real servers: a scheduled start (and one cancelled
 * before its time), pause and resume in the middle of a table copy, a throttle changed while
 * copies run, and pause, resume and throttle of an incremental migration's change stream.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { temporal } from '@temporalio/proto';
import type { ControlView } from '../common/control';
import type { MigrationProgress, MigrationReport } from '../common/plan';
import { runCli, startHarness, tableChecksums, userRelations, waitFor, writeSpec, type Harness } from './support/harness';
import { measureCopyRate, sampleCopies, totals } from './support/copy-rate';
import { replicationLeftovers } from './support/write-load';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MB = 1_048_576;
/** Two tables of about 36 MB of COPY data each: big enough to be copied alone, in parallel. */
const BIG_ROWS = 130_000;

describe('runtime control', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ name: 'control', temporalAddress: inject('temporalAddress') });
    await h.source.createDatabase('small');
    await h.source.query(
      `CREATE TABLE items (id int PRIMARY KEY, name text);
       INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 1000) g;
       CREATE TABLE notes (id int PRIMARY KEY, item int REFERENCES items, body text);
       INSERT INTO notes SELECT g, 1 + g % 1000, md5(g::text) FROM generate_series(1, 2000) g;`,
      'small',
    );
    await h.source.createDatabase('big');
    await h.source.query(
      `CREATE TABLE one (id bigint PRIMARY KEY, body text);
       CREATE TABLE two (id bigint PRIMARY KEY, body text);
       INSERT INTO one SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, ${BIG_ROWS}) g;
       INSERT INTO two SELECT g, repeat(md5((-g)::text), 8) FROM generate_series(1, ${BIG_ROWS}) g;`,
      'big',
    );
    await h.source.query('VACUUM ANALYZE', 'big');
    for (const db of ['small_a', 'small_b', 'small_c', 'big_a', 'big_b']) await h.target.createDatabase(db);
  });

  afterAll(async () => {
    await h?.close();
  });

  const status = async (id: string) => JSON.parse((await runCli(['status', id, '--json'], h.cliEnv)).stdout) as { state: string; progress?: MigrationProgress; report?: MigrationReport };
  const list = async () => (await runCli(['list'], h.cliEnv)).stdout;
  const details = async (id: string) => (await h.client.workflow.getHandle(id).query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';
  const history = async (id: string) => (await h.client.workflow.getHandle(id).fetchHistory()).events ?? [];
  const updateNames = (events: temporal.api.history.v1.IHistoryEvent[]) =>
    events.map((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name).filter(Boolean);
  const eventTime = (e: temporal.api.history.v1.IHistoryEvent) => Number(e.eventTime!.seconds) * 1000 + Math.floor((e.eventTime!.nanos ?? 0) / 1e6);

  it('starts a scheduled migration at its time, not before', async () => {
    const spec = writeSpec({ source: h.source.url('small'), target: h.target.url('small_a') });
    const id = `scheduled-${Date.now()}`;
    const startAt = new Date(Date.now() + 20_000);
    const at = startAt.toISOString().replace('Z', '+00:00');

    const bad = await runCli(['start', spec, '--id', `${id}-bad`, '--at', '2030-01-01 10:00'], h.cliEnv);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--at: must be an ISO 8601 date-time with a UTC offset');

    const started = await runCli(['start', spec, '--id', id, '--at', at], h.cliEnv);
    expect(started.code).toBe(0);
    expect(started.stdout).toContain(`(scheduled to start at ${at})`);
    await waitFor('the scheduled phase', async () => (await status(id)).progress?.phase === 'scheduled', 15_000, 200);
    const waiting = await status(id);
    expect(waiting.progress?.scheduledAt).toBe(at);
    expect(await list()).toMatch(new RegExp(`${id}\\tSCHEDULED \\(starts ${startAt.toISOString().replace(/\./g, '\\.')}\\)`));
    expect(await details(id)).toContain(`**Scheduled** to start at ${at}`);
    const text = await runCli(['status', id], h.cliEnv);
    expect(text.stdout).toContain(`scheduled to start at ${at}`);

    const report = (await h.client.workflow.getHandle(id).result()) as MigrationReport;
    expect(report.validation.mismatches).toEqual([]);
    expect(report.phases[0].phase).toBe('scheduled');
    expect(report.totalMs).toBeLessThan(report.phases[0].ms + 60_000);
    // Nothing ran before the time: the first activity (the precheck) was scheduled after it.
    const events = await history(id);
    expect(events.some((e) => e.timerStartedEventAttributes)).toBe(true);
    const firstActivity = events.find((e) => e.activityTaskScheduledEventAttributes);
    expect(eventTime(firstActivity!)).toBeGreaterThanOrEqual(startAt.getTime() - 50);
    expect(await tableChecksums(h.target, 'small_a')).toEqual(await tableChecksums(h.source, 'small'));

    // A finished migration cannot be paused or throttled.
    const late = await runCli(['pause', id], h.cliEnv);
    expect(late.code).toBe(1);
    expect(late.stderr).toContain(`migration ${id} has already ended (completed): there is nothing to pause`);
  });

  it('cancels a scheduled migration before its time, leaving nothing behind', async () => {
    const spec = writeSpec({ source: h.source.url('small'), target: h.target.url('small_b'), startAt: new Date(Date.now() + 3_600_000).toISOString() });
    const id = `scheduled-cancel-${Date.now()}`;
    expect((await runCli(['start', spec, '--id', id], h.cliEnv)).code).toBe(0);
    await waitFor('the scheduled phase', async () => (await status(id)).progress?.phase === 'scheduled', 15_000, 200);
    const cancel = await runCli(['cancel', id], h.cliEnv);
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toContain(`${id}: cancelled`);
    expect(await userRelations(h.target, 'small_b')).toEqual([]);
    expect(await h.source.query(`SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'pgferry%'`)).toEqual([]);
    expect((await history(id)).some((e) => e.activityTaskScheduledEventAttributes)).toBe(false);
  });

  it('holds a migration paused before its start at the next safe point, until resumed', async () => {
    const startAt = Date.now() + 8_000;
    const spec = writeSpec({ source: h.source.url('small'), target: h.target.url('small_c'), startAt: new Date(startAt).toISOString() });
    const id = `scheduled-paused-${Date.now()}`;
    expect((await runCli(['start', spec, '--id', id], h.cliEnv)).code).toBe(0);
    const paused = await runCli(['pause', id], h.cliEnv);
    expect(paused.code).toBe(0);
    expect(paused.stdout).toContain(`${id}: paused`);
    expect((await status(id)).progress).toMatchObject({ phase: 'scheduled', paused: true });
    await sleep(startAt + 4_000 - Date.now()); // past its start time
    expect((await status(id)).progress).toMatchObject({ phase: 'precheck', paused: true });
    expect((await history(id)).some((e) => e.activityTaskScheduledEventAttributes)).toBe(false);
    expect((await runCli(['resume', id], h.cliEnv)).code).toBe(0);
    const report = (await h.client.workflow.getHandle(id).result()) as MigrationReport;
    expect(report.validation.mismatches).toEqual([]);
    expect(await tableChecksums(h.target, 'small_c')).toEqual(await tableChecksums(h.source, 'small'));
  });

  it('pauses copies in the middle of a table and resumes them from exactly there', async () => {
    const spec = writeSpec({
      source: h.source.url('big'),
      target: h.target.url('big_a'),
      parallelism: { tables: 2 },
      throttle: { full: { mbPerSecond: 4 } }, // about 18 s for the two tables
    });
    const id = `pause-${Date.now()}`;
    expect((await runCli(['start', spec, '--id', id], h.cliEnv)).code).toBe(0);
    await waitFor('both copies to be under way', async () => {
      const s = await sampleCopies(h.target, 'big_a');
      return s.copies.size === 2 && totals(s).rows > 1_000;
    }, 120_000, 100);

    const paused = await runCli(['pause', id, '--json'], h.cliEnv);
    expect(paused.code).toBe(0);
    expect((JSON.parse(paused.stdout) as ControlView).paused).toBe(true);
    await sleep(1_500); // each copy notices within a second
    const before = await sampleCopies(h.target, 'big_a');
    await sleep(5_000);
    const after = await sampleCopies(h.target, 'big_a');
    // Still the same two COPYs (same transactions), not a row further.
    expect([...after.copies.keys()].sort()).toEqual([...before.copies.keys()].sort());
    expect(totals(after).rows).toBe(totals(before).rows);
    expect(totals(before).rows).toBeLessThan(2 * BIG_ROWS);
    const s = await status(id);
    expect(s.progress).toMatchObject({ phase: 'data', paused: true });
    expect(await list()).toMatch(new RegExp(`${id}\\tPAUSED`));
    expect(await details(id)).toContain('**Paused** since');

    const resumed = await runCli(['resume', id], h.cliEnv);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain(`${id}: not paused`);
    await waitFor('rows to flow again', async () => totals(await sampleCopies(h.target, 'big_a')).rows > totals(after).rows, 10_000, 100);

    const report = (await h.client.workflow.getHandle(id).result()) as MigrationReport;
    expect(report.validation.mismatches).toEqual([]);
    expect(report.tables.map((t) => t.rows)).toEqual([BIG_ROWS, BIG_ROWS]);
    expect(await tableChecksums(h.target, 'big_a')).toEqual(await tableChecksums(h.source, 'big'));
    // Nothing was redone: every copy activity ran once, in one attempt.
    const copyEvents = await history(`${id}/copy-1`);
    const attempts = copyEvents.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt);
    expect(attempts).toEqual([1, 1]);
    expect(updateNames(await history(id))).toEqual(['pause', 'resume']);
  });

  it('follows a throttle changed while the copies run, for all of them together', async () => {
    const spec = writeSpec({
      source: h.source.url('big'),
      target: h.target.url('big_b'),
      parallelism: { tables: 2 },
      throttle: { full: { mbPerSecond: 2 } },
    });
    const id = `throttle-${Date.now()}`;
    expect((await runCli(['start', spec, '--id', id], h.cliEnv)).code).toBe(0);
    await waitFor('both copies to be under way', async () => (await sampleCopies(h.target, 'big_b')).copies.size === 2, 120_000, 100);
    await sleep(1_500);
    const slow = await measureCopyRate(h.target, 'big_b', 6_000);
    const bad = await runCli(['throttle', id, '--mb-per-second', '0'], h.cliEnv);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--mb-per-second must be a positive number, got 0');

    const changed = await runCli(['throttle', id, '--mb-per-second', '5', '--phase', 'full', '--json'], h.cliEnv);
    expect(changed.code).toBe(0);
    expect((JSON.parse(changed.stdout) as ControlView).throttle).toEqual({ full: { mbPerSecond: 5 }, incremental: {} });
    const changedAt = Date.now();
    expect((await status(id)).progress?.throttle?.full).toEqual({ mbPerSecond: 5 });
    await sleep(changedAt + 2_000 - Date.now()); // every copy has seen it
    const fast = await measureCopyRate(h.target, 'big_b', 4_000);
    // Lifted before the tables run out (it must still be copying to take it).
    expect((await runCli(['throttle', id, '--unlimited'], h.cliEnv)).code).toBe(0);

    // Loose bounds: timing on a shared machine. The benchmark measures precisely.
    expect(slow.coveredMs).toBeGreaterThan(3_000);
    expect(fast.coveredMs).toBeGreaterThan(2_000);
    expect(slow.bytesPerSecond / MB).toBeGreaterThan(2 * 0.6);
    expect(slow.bytesPerSecond / MB).toBeLessThan(2 * 1.4);
    expect(fast.bytesPerSecond / MB).toBeGreaterThan(5 * 0.6);
    expect(fast.bytesPerSecond / MB).toBeLessThan(5 * 1.4);

    const report = (await h.client.workflow.getHandle(id).result()) as MigrationReport;
    expect(report.validation.mismatches).toEqual([]);
    expect(await tableChecksums(h.target, 'big_b')).toEqual(await tableChecksums(h.source, 'big'));
    const events = await history(id);
    expect(updateNames(events)).toEqual(['throttle', 'throttle']);
    const args = events.find((e) => e.workflowExecutionUpdateAcceptedEventAttributes)!.workflowExecutionUpdateAcceptedEventAttributes!.acceptedRequest!.input!.args!.payloads![0];
    expect(JSON.parse(Buffer.from(args.data!).toString())).toEqual({ phases: ['full'], mbPerSecond: 5 });
  });

  it('pauses, resumes and throttles the change stream of an incremental migration', async () => {
    await h.source.createDatabase('live');
    await h.target.createDatabase('live');
    await h.source.query(`CREATE TABLE events (id int PRIMARY KEY, body text); INSERT INTO events SELECT g, md5(g::text) FROM generate_series(1, 100) g;`, 'live');
    const spec = writeSpec({
      source: h.source.url('live'),
      target: h.target.url('live'),
      types: ['schema', 'full', 'incremental'],
      precheck: { ignore: ['ddl-during-migration'] },
      throttle: { incremental: { rowsPerSecond: 100 } },
    });
    const id = `stream-control-${Date.now()}`;
    expect((await runCli(['start', spec, '--id', id], h.cliEnv)).code).toBe(0);
    await waitFor('the stream to run', async () => (await status(id)).progress?.stream?.state === 'streaming', 180_000, 300);
    const targetRows = async () => Number((await h.target.query<{ n: string }>('SELECT count(*) AS n FROM events', 'live'))[0].n);
    // Paused, the stream closes its replication connection: the source's walsender does not go on decoding.
    const slotActive = async () => (await h.source.query<{ active: boolean }>(`SELECT bool_or(active) AS active FROM pg_replication_slots WHERE database = 'live'`))[0].active;
    // One transaction per row: a source transaction reaches the target in one commit.
    const insertRows = (from: number, to: number) => h.source.query(`DO $$ BEGIN FOR i IN ${from}..${to} LOOP INSERT INTO events VALUES (i, md5(i::text)); COMMIT; END LOOP; END $$`, 'live');

    expect((await runCli(['pause', id], h.cliEnv)).code).toBe(0);
    // The pause reaches the stream at its next poll of the workflow (a second; longer on a busy host).
    await waitFor('the paused stream to close its replication connection', async () => !(await slotActive()), 15_000, 100);
    await insertRows(101, 1000);
    await sleep(3_000);
    expect(await targetRows()).toBe(100);
    expect((await status(id)).progress).toMatchObject({ phase: 'streaming', paused: true, stream: { state: 'paused' } });
    expect(await slotActive()).toBe(false);

    expect((await runCli(['resume', id], h.cliEnv)).code).toBe(0);
    await waitFor('changes to be applied', async () => (await targetRows()) > 110, 10_000, 100);
    expect(await slotActive()).toBe(true);
    const first = await targetRows();
    await sleep(2_000);
    const second = await targetRows();
    const rate = (second - first) / 2;
    expect(rate).toBeGreaterThan(100 * 0.6);
    expect(rate).toBeLessThan(100 * 1.4);

    // Paused in the middle of a backlog (hundreds of transactions still in the slot): the
    // stream stops at the next transaction's end, not when the backlog runs out.
    expect((await runCli(['pause', id], h.cliEnv)).code).toBe(0);
    await waitFor('the stream to stop in the middle of its backlog', async () => !(await slotActive()), 4_000, 100);
    const atPause = await targetRows();
    await sleep(2_000);
    expect(await targetRows()).toBe(atPause);
    expect(atPause).toBeLessThan(1000);
    expect((await runCli(['resume', id], h.cliEnv)).code).toBe(0);

    expect((await runCli(['throttle', id, '--phase', 'incremental', '--unlimited'], h.cliEnv)).code).toBe(0);
    await waitFor('the backlog to drain', async () => (await targetRows()) === 1000, 15_000, 100);
    const cutover = await runCli(['cutover', id], h.cliEnv);
    expect(cutover.code).toBe(0);
    expect(cutover.stdout).toContain('0 mismatches');
    // The cutover's answer comes before the migration drops its bookkeeping in the target: wait for the end.
    await h.client.workflow.getHandle(id).result();
    expect(await tableChecksums(h.target, 'live')).toEqual(await tableChecksums(h.source, 'live'));
    expect(await replicationLeftovers(h.source, 'live')).toEqual([]);
  });
});
