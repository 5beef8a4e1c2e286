/**
 * Several worker processes serving one migration: the snapshot holder on one, chunks of a split
 * table on all three. One worker (not the holder's) is killed for good in the middle of a
 * chunk: the heartbeat timeout notices it within seconds, only that chunk is copied again (by
 * another worker, under the same snapshot), and the target equals the source. The report
 * names which workers copied what.
 */
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MigrationReport } from '../common/plan';
import { runCli, startHarness, tableChecksums, waitFor, writeSpec, type Harness } from './support/harness';
import { startWorkerProcess, type WorkerProcess } from '../launch/worker';

const SOURCE_SQL = `
CREATE TABLE big (id bigint PRIMARY KEY, body text);
INSERT INTO big SELECT g, repeat(md5(g::text), 5) FROM generate_series(1, 400000) g;
CREATE TABLE side (n int, payload text);
INSERT INTO side SELECT g % 100, repeat(md5(g::text), 2) FROM generate_series(1, 50000) g;
CREATE TABLE small (id int PRIMARY KEY);
INSERT INTO small SELECT generate_series(1, 10);
`;

interface PendingActivity {
  activityId?: string;
  activityType?: { name?: string };
  state?: number | string;
  lastWorkerIdentity?: string;
}

async function pendingActivities(h: Harness, workflowId: string): Promise<PendingActivity[]> {
  const d = await h.client.workflow.getHandle(workflowId).describe();
  return (d.raw.pendingActivities ?? []) as PendingActivity[];
}

describe('several workers', () => {
  let h: Harness;
  const extra: WorkerProcess[] = [];

  beforeAll(async () => {
    h = await startHarness({ name: 'workers', temporalAddress: inject('temporalAddress') });
    for (let i = 0; i < 2; i++) extra.push(await startWorkerProcess({ temporalAddress: inject('temporalAddress'), taskQueue: h.taskQueue }));
    await h.source.createDatabase('app');
    await h.target.createDatabase('app');
    await h.source.query(SOURCE_SQL, 'app');
  });

  afterAll(async () => {
    for (const w of extra) await w.stop().catch(() => undefined);
    await h?.close();
  });

  it('loses only the chunk in flight when a worker dies for good, and names who copied what', async () => {
    const spec = writeSpec({
      source: h.source.url('app'),
      target: h.target.url('app'),
      parallelism: { tables: 3 },
      copy: { splitLargerThan: '8MB' },
      validation: 'checksum',
      throttle: { full: { mbPerSecond: 12 } }, // a few seconds per chunk: time to kill a worker in one
      precheck: { ignore: ['tables-without-key'] },
    });
    const workflowId = `workers-${Date.now()}`;
    expect((await runCli(['start', spec, '--id', workflowId], h.cliEnv)).code).toBe(0);

    // The holder's worker, and a chunk running on another one.
    let holder: string | undefined;
    let victim: string | undefined;
    await waitFor(
      'a chunk running on a worker that does not hold the snapshot',
      async () => {
        holder ??= (await pendingActivities(h, workflowId)).find((a) => a.activityType?.name === 'holdSnapshot')?.lastWorkerIdentity || undefined;
        if (!holder) return false;
        const copies = (await pendingActivities(h, `${workflowId}/copy-1`)).filter((a) => a.activityType?.name === 'copyUnit' && a.lastWorkerIdentity);
        victim = copies.find((a) => a.lastWorkerIdentity !== holder)?.lastWorkerIdentity;
        return victim !== undefined;
      },
      120_000,
      100,
    );
    const workers = [h.worker, ...extra];
    const pid = Number(victim!.split('@')[0]);
    const process = workers.find((w) => w.pid === pid)!;
    expect(process).toBeDefined();
    await new Promise((r) => setTimeout(r, 500)); // into the chunk
    const killedAt = Date.now();
    await process.kill('SIGKILL');
    // What the killed worker was running (a worker takes as many activities as it is given).
    const inFlight = (await pendingActivities(h, `${workflowId}/copy-1`)).filter((a) => a.lastWorkerIdentity === victim).map((a) => a.activityId);
    expect(inFlight.length).toBeGreaterThan(0);

    const report = (await h.client.workflow.getHandle(workflowId).result()) as MigrationReport;
    expect(report.validation.mismatches).toEqual([]);
    expect(await tableChecksums(h.target, 'app')).toEqual(await tableChecksums(h.source, 'app'));
    // No data phase was restarted: the snapshot lived on the holder's worker.
    expect(report.warnings.join('\n')).not.toContain('snapshot');
    // The killed worker's chunks are counted as read again (bytes: their last heartbeats).
    expect(report.redone?.tables).toBe(inFlight.length);
    const bigCopiedBy = report.tables.find((t) => t.name === 'big')!.worker!.split(', ');
    expect(bigCopiedBy.length).toBeGreaterThanOrEqual(2);
    for (const w of bigCopiedBy) expect(w).toMatch(new RegExp(`^\\d+@${hostname()}$`));

    // Exactly the chunks in flight on the killed worker ran again, on other workers, within
    // seconds of the kill; nothing else was copied twice.
    const history = await h.client.workflow.getHandle(`${workflowId}/copy-1`).fetchHistory();
    const events = history.events ?? [];
    const scheduledId = new Map(events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => [String(e.eventId), e.activityTaskScheduledEventAttributes!.activityId]));
    const retried = events.filter((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1);
    expect(retried.map((e) => scheduledId.get(String(e.activityTaskStartedEventAttributes!.scheduledEventId))).sort()).toEqual([...inFlight].sort());
    for (const started of retried) {
      expect(started.activityTaskStartedEventAttributes?.identity).not.toBe(victim);
      const detectedMs = Number(started.eventTime!.seconds) * 1000 + Math.floor((started.eventTime!.nanos ?? 0) / 1e6) - killedAt;
      console.log(`a chunk of the killed worker started again on ${started.activityTaskStartedEventAttributes?.identity} ${(detectedMs / 1000).toFixed(1)} s after the kill`);
      // 5 s heartbeat timeout + 1 s retry interval, with room for a loaded host (was 10.4 s with a 10 s timeout).
      expect(detectedMs).toBeLessThan(9_000);
    }

    const text = await runCli(['status', workflowId], h.cliEnv);
    expect(text.stdout).toMatch(/Copied by [23] workers: /);
  });
});
