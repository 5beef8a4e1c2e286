/**
 * `npm run bench:cdc` (or `npm run bench -- --cdc`): the change-capture half of the benchmark.
 * pgferry's incremental mode and PostgreSQL's native logical replication, one after the other in
 * the same run, each from a freshly built pgbench database into a fresh target, under the same
 * pgbench load: lag while it runs and catch-up after it, the drain of a backlog piled up while
 * the apply was paused, and the cutover downtime. Writes bench/RESULTS-cdc.md.
 *
 *   --cdc-seconds N  length of each load (default 60; 10 with --quick)
 *   --scale N        pgbench scale (default 10; 2 with --quick)
 *   --only NAMES     comma-separated: native,pgferry (default both, native first)
 *   --quick          smoke test: small and short; writes RESULTS-cdc-quick.md
 *   (with --only, --cdc-seconds or --scale it writes RESULTS-cdc-partial.md, git-ignored)
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { startPostgres } from '../launch/postgres';
import { startTemporalServer, type TemporalServer } from '../launch/temporal';
import { repoRoot } from '../launch/repo-root';
import type { CdcContender, CdcContext } from './cdc-contender';
import { countCpu, pidByCommandLine } from './cdc-cpu';
import { currentLsn, sampleLag, slotPosition, summarize, waitConfirmed, type LagSample } from './cdc-lag';
import { nativeReplication } from './cdc-native';
import { buildPgbenchDatabase, compareCounts, runLoad } from './cdc-pgbench';
import { failureChain, pgferryContender } from './cdc-pgferry';
import { BENCH_SETTINGS } from './settings';
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
async function drain(ctx: CdcContext, c: CdcContender, seconds: number, result: CdcResult): Promise<void> {
  await checkpoint(ctx);
  result.peakRssBytes = c.peakRssBytes?.();
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
  const cpu = countCpu(ctx.source, ctx.target, { worker: c.workerPid?.(), temporal: ctx.temporalPid });
  const resumedAt = Date.now();
  await c.resume();
  const drainMs = await waitConfirmed(ctx.source, ctx.db, c.slot(), load.endLsn, resumedAt, CATCH_UP_TIMEOUT_MS);
  const cpuSeconds = cpu.stop();
  const d: DrainResult = { load, backlogBytes: load.endLsn - after.confirmed, appliedWhilePausedBytes, drainMs, cpu: cpuSeconds, peakRssBytes: c.peakRssBytes?.(), mismatches: [] };
  result.drain = d;
  d.mismatches = await compareCounts(ctx.source, ctx.target, ctx.db);
  console.log(
    `    drain: ${load.transactions} transactions, ${(d.backlogBytes / 1048576).toFixed(1)} MB in ${secs(drainMs)} = ${drainTps(d).toFixed(0)} TPS; CPU s source ${cpuSeconds.source.toFixed(1)}, target ${cpuSeconds.target.toFixed(1)}, worker ${cpuSeconds.worker.toFixed(1)}, Temporal ${cpuSeconds.temporal.toFixed(1)}, other ${cpuSeconds.other.toFixed(1)}${d.peakRssBytes ? `; worker peak ${(d.peakRssBytes / 1048576).toFixed(0)} MiB` : ''}${d.mismatches.length ? ` — MISMATCH ${d.mismatches.join('; ')}` : ''}`,
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

async function measure(ctx: CdcContext, c: CdcContender, scale: number, seconds: number, cutoverSeconds: number): Promise<CdcResult> {
  const result: CdcResult = { name: c.name };
  let step = 'building the pgbench database';
  console.log(`  ${c.name}:`);
  try {
    await buildPgbenchDatabase(ctx.source, ctx.db, scale);
    step = 'initial copy';
    const t0 = Date.now();
    await c.setup(ctx);
    await settle(ctx, c.slot());
    result.setupSeconds = (Date.now() - t0) / 1000;
    console.log(`    initial copy and stream start: ${result.setupSeconds.toFixed(1)} s (slot ${c.slot()})`);
    step = 'steady load';
    await steady(ctx, c, seconds, result);
    step = 'drain';
    await drain(ctx, c, seconds, result);
    step = 'cutover';
    await cutover(ctx, c, cutoverSeconds, result);
  } catch (err) {
    result.failure = `${step}: ${failureChain(err)}`;
    console.log(`    FAILED at ${result.failure}`);
  } finally {
    await c.teardown().catch((err) => console.log(`    teardown: ${failureChain(err)}`));
  }
  return result;
}

export async function runCdcBench(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const seconds = Number(arg('--cdc-seconds') ?? (quick ? 10 : 60));
  const scale = Number(arg('--scale') ?? (quick ? 2 : 10));
  const cutoverSeconds = Math.min(10, seconds);
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
    const ctx: CdcContext = { source, target, db: DB, temporalAddress: temporal?.address, temporalPid };
    for (const c of contenders) results.push(await measure(ctx, c!, scale, seconds, cutoverSeconds));
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
      loadAverages: [loadBefore, loadavg()[0]],
    },
    results,
  );
  // Only a full run (both contenders, default scale and length) replaces the committed results.
  const partial = only.length < 2 || arg('--cdc-seconds') !== undefined || arg('--scale') !== undefined;
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
