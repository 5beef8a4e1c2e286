/**
 * Lag seconds, measured from the source's side (activities/stream/lag-clock.ts), against real
 * servers: an idle source reads about 0 and does not grow; a steady write load reads a fraction
 * of a second; a backlog held in the slot by a throttled stream reads as old as it is — before,
 * it read 0 between two applies. The stream's reports (`<id>/stream`'s progress) are sampled as
 * the operator sees them. The heartbeats it writes leave nothing on the source.
 */
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseLsn } from '../common/lsn';
import { CAUGHT_UP_SECONDS } from '../common/stream-outlook';
import type { StreamProgress } from '../common/stream';
import { streamProgressQuery } from '../workflows/messages';
import { runCli, startHarness, waitFor, waitForPhase, writeSpec, type Harness } from './support/harness';
import { replicationLeftovers } from './support/write-load';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('lag seconds from the source', () => {
  let h: Harness;
  let writer: Client;
  const id = `lag-${Date.now()}`;

  beforeAll(async () => {
    h = await startHarness({ name: 'lag', temporalAddress: inject('temporalAddress') });
    await h.source.createDatabase('app');
    await h.target.createDatabase('app');
    await h.source.query(`CREATE TABLE ticks (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp(), pad text)`, 'app');
    writer = new Client({ host: h.source.host, port: h.source.port, user: h.source.user, database: 'app', password: h.source.password });
    await writer.connect();
    const spec = writeSpec({
      source: h.source.url('app'),
      target: h.target.url('app'),
      types: ['schema', 'full', 'incremental'],
      precheck: { ignore: ['ddl-during-migration'] },
    });
    expect((await runCli(['start', spec, '--id', id], h.cliEnv)).code).toBe(0);
    await waitForPhase(h.client, id, 'streaming');
  });

  afterAll(async () => {
    await writer?.end().catch(() => undefined);
    await h?.close();
  });

  const stream = () => h.client.workflow.getHandle(`${id}/stream`);
  const progress = () => stream().query(streamProgressQuery);

  /** The stream's reports (one each 5 s) while `during` runs, at least `minReports` of them. */
  async function reports(during: () => Promise<void>, minReports: number): Promise<StreamProgress[]> {
    const seen = new Map<number, StreamProgress>();
    let done = false;
    const sampling = (async () => {
      while (!done || seen.size < minReports) {
        const p = await progress().catch(() => undefined);
        if (p?.updatedAt) seen.set(p.updatedAt, p);
        await sleep(500);
      }
    })();
    await during();
    done = true;
    await sampling;
    return [...seen.values()].sort((a, b) => a.updatedAt! - b.updatedAt!);
  }

  it('reads about 0 on an idle source, without growing', async () => {
    await waitFor('the stream to report', async () => (await progress()).updatedAt !== undefined, 60_000, 500);
    const idle = await reports(() => sleep(16_000), 3);
    console.log('idle lag', idle.map((r) => r.lagSeconds));
    expect(idle.length).toBeGreaterThanOrEqual(3);
    for (const r of idle) expect(r.lagSeconds).toBeLessThan(1.5);
    expect(idle[idle.length - 1].lagSeconds).toBeLessThan(1.5);
  });

  it('reads a fraction of a second under a steady load the stream keeps up with', async () => {
    let inserted = 0;
    const load = await reports(async () => {
      const until = Date.now() + 16_000;
      while (Date.now() < until) {
        await writer.query(`INSERT INTO ticks (pad) VALUES (repeat('x', 200))`);
        inserted += 1;
        await sleep(20);
      }
    }, 3);
    console.log('steady lag', load.map((r) => r.lagSeconds), 'rows', inserted);
    expect(inserted).toBeGreaterThan(200);
    expect(load.length).toBeGreaterThanOrEqual(3);
    for (const r of load) expect(r.lagSeconds).toBeLessThan(3);
    expect(load.some((r) => r.changesPerSecond > 0)).toBe(true);
  });

  it('dates a backlog held in the slot by a throttled stream by its real age', async () => {
    expect((await runCli(['throttle', id, '--phase', 'incremental', '--rows-per-second', '100'], h.cliEnv)).code).toBe(0);
    await sleep(2_500); // the stream learns the limit at its next poll (every second)
    const rows = 2_000;
    let backlogEnd = 0n;
    let t0 = 0;
    let t1 = 0;
    const backlog = await reports(async () => {
      t0 = Date.now();
      // One transaction per row, committed within a moment: between two of its applies the
      // stream has nothing received left to date the lag by, only the slot's backlog.
      // Without waiting for a flush per commit, so the rows come far faster than the stream's
      // 100 a second even on a slow disk, and the backlog is many seconds old.
      await writer.query(`SET synchronous_commit = off`);
      await writer.query(`DO $$ BEGIN FOR i IN 1..${rows} LOOP INSERT INTO ticks (pad) VALUES (repeat('y', 200)); COMMIT; END LOOP; END $$`);
      await writer.query(`RESET synchronous_commit`);
      t1 = Date.now();
      backlogEnd = parseLsn((await writer.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0].lsn);
      await waitFor('the target to have every row', async () => Number((await h.target.query<{ n: string }>('SELECT count(*) AS n FROM ticks', 'app'))[0].n) === (await countTicks()), 120_000, 500);
      await waitFor('the stream to pass the backlog', async () => parseLsn((await progress()).appliedLsn ?? '0/0') >= backlogEnd, 120_000, 500);
      await sleep(6_000); // one more report, caught up
    }, 4);
    const behind = backlog.filter((r) => r.updatedAt! > t1 + 2_000 && parseLsn(r.appliedLsn!) < backlogEnd);
    console.log(
      'throttled backlog',
      backlog.map((r) => ({ at: r.updatedAt! - t0, lag: r.lagSeconds, bytes: r.lagBytes, behind: parseLsn(r.appliedLsn!) < backlogEnd })),
    );
    // 2,000 row changes at 100 a second: about 20 s to drain, reported every 5 s.
    expect(behind.length).toBeGreaterThanOrEqual(2);
    for (const r of behind) {
      // The oldest change not applied committed between t0 and t1 (heartbeats are a second apart).
      expect(r.lagSeconds).toBeGreaterThanOrEqual((r.updatedAt! - t1) / 1000 - 2);
      expect(r.lagSeconds).toBeLessThanOrEqual((r.updatedAt! - t0) / 1000 + 1);
      expect(r.lagBytes).toBeGreaterThan(0);
      // Caught up means behind by at most CAUGHT_UP_SECONDS: on a slow machine the writes
      // themselves take long enough that the stream's oldest unapplied change is that young.
      expect(r.outlook?.caughtUp).toBe(r.lagSeconds <= CAUGHT_UP_SECONDS);
    }
    const last = backlog[backlog.length - 1];
    expect(last.lagSeconds).toBeLessThan(1.5);
    expect(last.outlook?.caughtUp).toBe(true);
    expect((await runCli(['throttle', id, '--phase', 'incremental', '--unlimited'], h.cliEnv)).code).toBe(0);
  });

  it('grows while the stream is paused and the source takes writes', async () => {
    expect((await runCli(['pause', id], h.cliEnv)).code).toBe(0);
    await sleep(1_500);
    const t0 = Date.now();
    await writer.query(`DO $$ BEGIN FOR i IN 1..50 LOOP INSERT INTO ticks (pad) VALUES ('paused'); COMMIT; END LOOP; END $$`);
    await waitFor('a report 8 s after the writes', async () => ((await progress()).updatedAt ?? 0) > t0 + 8_000, 30_000, 500);
    const paused = await progress();
    console.log('paused', { at: paused.updatedAt! - t0, lag: paused.lagSeconds, state: paused.state });
    expect(paused.state).toBe('paused');
    expect(paused.lagSeconds).toBeGreaterThanOrEqual((paused.updatedAt! - t0) / 1000 - 2);
    expect(paused.lagSeconds).toBeLessThanOrEqual((paused.updatedAt! - t0) / 1000 + 2);
    expect((await runCli(['resume', id], h.cliEnv)).code).toBe(0);
    await waitFor('the lag to fall back once resumed', async () => (await progress()).lagSeconds < 1.5 && ((await progress()).updatedAt ?? 0) > Date.now() - 6_000, 30_000, 500);
  });

  it('leaves nothing on the source once cancelled', async () => {
    await h.client.workflow.getHandle(id).cancel();
    await waitFor('the migration to end', async () => (await h.client.workflow.getHandle(id).describe()).status.name === 'CANCELLED', 60_000, 500);
    expect(await replicationLeftovers(h.source, 'app')).toEqual([]);
  });

  async function countTicks(): Promise<number> {
    return Number((await writer.query<{ n: string }>('SELECT count(*) AS n FROM ticks')).rows[0].n);
  }
});
