/**
 * `npm run bench:cdc` (or `npm run bench -- --cdc`): the change-capture half of the benchmark.
 * pgferry's incremental mode and PostgreSQL's native logical replication in the same run, each
 * from its own freshly built pgbench database into a fresh target, under the same pgbench load:
 * lag while it runs and catch-up after it, the drain of a backlog piled up while the apply was
 * paused (several rounds, alternating), and the cutover downtime. Writes bench/RESULTS-cdc.md.
 *
 *   --cdc-seconds N  length of each load (default 60; 10 with --quick)
 *   --scale N        pgbench scale (default 10; 2 with --quick)
 *   --drains N       drain rounds (default 3; 1 with --quick): the report takes the median
 *   --only NAMES     comma-separated: native,pgferry (default both, native first)
 *   --quick          smoke test: small and short; writes RESULTS-cdc-quick.md
 *   (with --only, --cdc-seconds, --scale or --drains it writes RESULTS-cdc-partial.md, git-ignored)
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { startPostgres } from '../launch/postgres';
import { startTemporalServer, type TemporalServer } from '../launch/temporal';
import { repoRoot } from '../launch/repo-root';
import type { CdcContender, CdcContext } from './cdc-contender';
import { countCpu } from './cdc-cpu';
import { pidByCommandLine } from './proc-times';
import { currentLsn, sampleLag, sentPosition, slotPosition, summarize, waitConfirmed, type LagSample } from './cdc-lag';
import { nativeReplication } from './cdc-native';
import { buildPgbenchDatabase, compareCounts, runLoad } from './cdc-pgbench';
import { failureChain, pgferryContender } from './cdc-pgferry';
import { BENCH_SETTINGS } from './settings';
import { watchDrain } from './drain-diagnostics';
import { drainTps, renderCdcReport, type CdcResult, type DrainResult } from './cdc-report';
import { arg } from './bench-helpers';

const DB = 'cdc';
const CATCH_UP_TIMEOUT_MS = 10 * 60_000;

const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** Waits until the contender has applied everything the source has written so far. */
async function settle(ctx: CdcContext, slot: string): Promise<void> {
  await waitConfirmed(ctx.source, ctx.db, slot, await currentLsn(ctx.source, ctx.db), Date.now(), CATCH_UP_TIMEOUT_MS);
}

async function checkpoint(ctx: CdcContext): Promise<void> {
  await Promise.all([ctx.source.query('CHECKPOINT'), ctx.target.query('CHECKPOINT')]);
}

/**
 * VACUUM of the contender's source and target databases, between a drain's load and its resume:
 * otherwise autovacuum takes the load's dead rows (source) or the last round's (target) up at a
 * moment of its choosing, and in a drain of a few seconds that was 0.2-0.7 CPU-s on the 2 cores,
 * taken from whichever contender it fell on.
 */
async function vacuum(ctx: CdcContext): Promise<void> {
  await Promise.all([ctx.source.query('VACUUM', ctx.db), ctx.target.query('VACUUM', ctx.db)]);
}

/** (1) The load with the stream live: lag sampled throughout, then catch-up. */
async function steady(ctx: CdcContext, c: CdcContender, seconds: number, result: CdcResult): Promise<void> {
  await checkpoint(ctx);
  const sampler = await sampleLag(ctx.source, ctx.db, c.slot(), c.ownLag?.bind(c));
  const loadAndCatchUp = async () => {
    const load = await runLoad(ctx.source, ctx.db, seconds);
    return { load, catchUpMs: await waitConfirmed(ctx.source, ctx.db, c.slot(), load.endLsn, load.endedAt, CATCH_UP_TIMEOUT_MS) };
  };
  const { load, catchUpMs } = await loadAndCatchUp().catch(async (err) => {
    await sampler.stop();
    throw err;
  });
  const lag = summarize(await sampler.stop(), load.endedAt);
  result.steady = { load, lag, catchUpMs, mismatches: [] };
  result.steady.mismatches = await compareCounts(ctx.source, ctx.target, ctx.db);
  console.log(`    steady: ${load.tps.toFixed(0)} TPS, peak lag ${(lag.peakBytes / 1048576).toFixed(2)} MB / ${lag.peakSeconds.toFixed(2)} s, catch-up ${secs(catchUpMs)}${result.steady.mismatches.length ? ` — MISMATCH ${result.steady.mismatches.join('; ')}` : ''}`);
}

/** When and by how much the slot moved while it should have stood still (empty when it did not). */
function pausedMoves(samples: LagSample[], loadStartedAt: number): string {
  const moves: string[] = [];
  for (let i = 1; i < samples.length; i += 1) {
    const d = samples[i].confirmed - samples[i - 1].confirmed;
    if (d > 0) moves.push(`${d} bytes at ${((samples[i].at - loadStartedAt) / 1000).toFixed(1)} s`);
  }
  return moves.join(', ');
}

/** (2) The load with the apply paused, then the backlog drained. */
async function drain(ctx: CdcContext, c: CdcContender, seconds: number, result: CdcResult, round: number): Promise<void> {
  await settle(ctx, c.slot());
  await checkpoint(ctx);
  result.peakRssBytes ??= c.peakRssBytes?.();
  await c.pause();
  c.resetPeakRss?.();
  const before = await slotPosition(ctx.source, ctx.db, c.slot());
  const sampler = await sampleLag(ctx.source, ctx.db, c.slot());
  const load = await runLoad(ctx.source, ctx.db, seconds).catch(async (err) => {
    await sampler.stop();
    throw err;
  });
  const after = await slotPosition(ctx.source, ctx.db, c.slot());
  const samples = await sampler.stop();
  if (!before || !after) throw new Error(`slot ${c.slot()} disappeared while paused`);
  // A paused stream may still confirm WAL written before the load that was not its own (page
  // pruning by the row counts, checkpoints): only what moved past the load's start was applied.
  const appliedWhilePausedBytes = Math.max(0, after.confirmed - Math.max(before.confirmed, load.startLsn));
  if (appliedWhilePausedBytes) console.log(`    applied while paused: ${pausedMoves(samples, load.endedAt - load.seconds * 1000)}`);
  await vacuum(ctx);
  const sent = await sentPosition(ctx.source, ctx.db, c.slot());
  const watch = await watchDrain(ctx.source, ctx.target, ctx.db, c.slot());
  const cpu = countCpu(ctx.source, ctx.target, { worker: c.workerPid?.(), temporal: ctx.temporalPid });
  const resumedAt = Date.now();
  await c.resume();
  const drainMs = await waitConfirmed(ctx.source, ctx.db, c.slot(), load.endLsn, resumedAt, CATCH_UP_TIMEOUT_MS);
  const cpuSeconds = cpu.stop();
  for (const line of watch.stop(load.transactions)) console.log(`    ${line}`);
  const sentBeforeResumeBytes = Math.max(0, sent - after.confirmed);
  const d: DrainResult = { round, load, backlogBytes: load.endLsn - after.confirmed, appliedWhilePausedBytes, sentBeforeResumeBytes, drainMs, cpu: cpuSeconds, peakRssBytes: c.peakRssBytes?.(), mismatches: [] };
  result.drains.push(d);
  d.mismatches = await compareCounts(ctx.source, ctx.target, ctx.db);
  console.log(
    `    drain ${round + 1}: ${load.transactions} transactions, ${(d.backlogBytes / 1048576).toFixed(1)} MB in ${secs(drainMs)} = ${drainTps(d).toFixed(0)} TPS; CPU s source ${cpuSeconds.source.toFixed(1)}, target ${cpuSeconds.target.toFixed(1)}, worker ${cpuSeconds.worker.toFixed(1)}, Temporal ${cpuSeconds.temporal.toFixed(1)}, other ${cpuSeconds.other.toFixed(1)}${d.peakRssBytes ? `; worker peak ${(d.peakRssBytes / 1048576).toFixed(0)} MiB` : ''}${d.mismatches.length ? ` — MISMATCH ${d.mismatches.join('; ')}` : ''}`,
  );
}

/** (3) The load with the stream live, and the cutover the moment it stops. */
async function cutover(ctx: CdcContext, c: CdcContender, seconds: number, result: CdcResult): Promise<void> {
  await checkpoint(ctx);
  const load = await runLoad(ctx.source, ctx.db, seconds);
  const outcome = await c.cutover(load.endedAt);
  result.cutover = { load, outcome, mismatches: [] };
  result.cutover.mismatches = await compareCounts(ctx.source, ctx.target, ctx.db);
  console.log(`    cutover: downtime ${secs(outcome.downtimeMs)} (writes stopped → ready ${secs(outcome.wallMs)})${outcome.detail ? `; ${outcome.detail}` : ''}`);
}

/** One contender with its own database on both servers, and what has been measured of it. */
interface Entry {
  c: CdcContender;
  ctx: CdcContext;
  result: CdcResult;
}

/** Runs one step of a contender that has not failed yet; a failure is recorded and ends its steps. */
async function step(e: Entry, name: string, fn: () => Promise<void>): Promise<void> {
  if (e.result.failure) return;
  console.log(`  ${e.c.name}, ${name}:`);
  try {
    await fn();
  } catch (err) {
    e.result.failure = `${name}: ${failureChain(err)}`;
    console.log(`    FAILED at ${e.result.failure}`);
  }
}

/**
 * Every contender is set up (each from its own pgbench database) and stays live to the end, so
 * each step runs beside the same idle others; the drains then run in rounds, the contenders'
 * order alternating, and the report takes each one's median: this host's speed drifts by a
 * quarter over minutes, and one drain apiece measured the drift as often as the contenders.
 */
async function measureAll(entries: Entry[], scale: number, seconds: number, cutoverSeconds: number, drains: number): Promise<void> {
  for (const e of entries) {
    await step(e, 'building the pgbench database', () => buildPgbenchDatabase(e.ctx.source, e.ctx.db, scale));
    await step(e, 'initial copy', async () => {
      const t0 = Date.now();
      await e.c.setup(e.ctx);
      await settle(e.ctx, e.c.slot());
      e.result.setupSeconds = (Date.now() - t0) / 1000;
      console.log(`    initial copy and stream start ${e.result.setupSeconds.toFixed(1)} s (slot ${e.c.slot()})`);
    });
  }
  for (const e of entries) {
    await step(e, 'steady load', () => steady(e.ctx, e.c, seconds, e.result));
  }
  for (let round = 0; round < drains; round += 1) {
    for (const e of round % 2 ? [...entries].reverse() : entries) {
      await step(e, `drain ${round + 1}`, () => drain(e.ctx, e.c, seconds, e.result, round));
    }
  }
  for (const e of entries) {
    await step(e, 'cutover', () => cutover(e.ctx, e.c, cutoverSeconds, e.result));
  }
}

export async function runCdcBench(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const seconds = Number(arg('--cdc-seconds') ?? (quick ? 10 : 60));
  const scale = Number(arg('--scale') ?? (quick ? 2 : 10));
  const cutoverSeconds = Math.min(10, seconds);
  const drains = Number(arg('--drains') ?? (quick ? 1 : 3));
  const only = (arg('--only') ?? 'native,pgferry').split(',');
  const contenders = only.map((n) => (n === 'native' ? nativeReplication() : n === 'pgferry' ? pgferryContender() : undefined));
  if (contenders.some((c) => !c)) throw new Error(`--only takes native and/or pgferry, not ${only.join(',')}`);

  const loadBefore = loadavg()[0];
  console.log('starting clusters and Temporal...');
  const source = await startPostgres({ name: 'bench-cdc-src', logical: true, settings: BENCH_SETTINGS });
  const target = await startPostgres({ name: 'bench-cdc-tgt', settings: BENCH_SETTINGS });
  let temporal: TemporalServer | undefined;
  const results: CdcResult[] = [];
  try {
    if (only.includes('pgferry')) temporal = await startTemporalServer();
    const temporalPid = temporal ? pidByCommandLine(['start-dev', '--port', temporal.address.split(':')[1]]) : undefined;
    const ctx = { source, target, temporalAddress: temporal?.address, temporalPid };
    const entries: Entry[] = contenders.map((c, i) => ({ c: c!, ctx: { ...ctx, db: `${DB}_${only[i]}` }, result: { name: c!.name, drains: [] } }));
    results.push(...entries.map((e) => e.result));
    try {
      await measureAll(entries, scale, seconds, cutoverSeconds, drains);
    } finally {
      for (const e of entries) await e.c.teardown().catch((err) => console.log(`  ${e.c.name} teardown: ${failureChain(err)}`));
    }
  } finally {
    await temporal?.stop();
    await source.stop();
    await target.stop();
  }

  const report = renderCdcReport(
    {
      command: `npm run bench:cdc${process.argv.slice(2).filter((a) => a !== '--cdc').length ? ' -- ' + process.argv.slice(2).filter((a) => a !== '--cdc').join(' ') : ''}`,
      machine: `${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, PostgreSQL 15 (two clusters on one host over TCP 127.0.0.1, fsync and synchronous_commit on, shared_buffers 1GB)`,
      scale,
      seconds,
      cutoverSeconds,
      drains,
      loadAverages: [loadBefore, loadavg()[0]],
    },
    results,
  );
  // Only a full run (both contenders, default scale and length) replaces the committed results.
  const partial = only.length < 2 || ['--cdc-seconds', '--scale', '--drains'].some((a) => arg(a) !== undefined);
  const file = join(repoRoot(), 'bench', quick ? 'RESULTS-cdc-quick.md' : partial ? 'RESULTS-cdc-partial.md' : 'RESULTS-cdc.md');
  writeFileSync(file, report);
  console.log(`\n${report}\nwritten to ${file}`);
}

if (require.main === module) {
  runCdcBench().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
