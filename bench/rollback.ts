/**
 * `npm run bench:rollback`: the way back's cost. A pgbench database migrated by pgferry with
 * `incremental.wayBack: true` and cut over (`--lock-source`); then the applications' load runs
 * on the target (`pgbench -c 4 -j 2 -N`) while its writes stream back to the source, and
 * `pgferry rollback` is asked the moment the load ends. Measured per run: the rollback's
 * downtime (request to source writable, as the workflow counts it, and as the CLI saw it), the
 * reverse stream's lag during the load, and that the source then equals the target.
 * Goal (issue 16): rollback downtime under 3 s. Writes bench/RESULTS-rollback.md.
 *
 *   --scale N      pgbench scale (default 10; 2 with --quick)
 *   --seconds N    length of the load on the target (default 30; 10 with --quick)
 *   --runs N       migrations, each cut over and rolled back (default 3; 1 with --quick)
 *   --quick        smoke test; writes RESULTS-rollback-quick.md (git-ignored)
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { startPostgres } from '../launch/postgres';
import { startTemporalServer } from '../launch/temporal';
import { startWorkerProcess } from '../launch/worker';
import { repoRoot } from '../launch/repo-root';
import type { CutoverResult, MigrationProgress } from '../common/plan';
import type { RollbackResult } from '../common/way-back';
import { progressQuery } from '../workflows/messages';
import { BENCH_SETTINGS } from './settings';
import { arg, median, recreateDatabase } from './bench-helpers';
import { buildPgbenchDatabase, compareCounts, runLoad, type LoadResult } from './cdc-pgbench';
import { sampleLag, summarize, type LagSummary } from './cdc-lag';

const run = promisify(execFile);
const DB = 'rollback';

interface RunResult {
  cutover: CutoverResult;
  load: LoadResult;
  lag: LagSummary;
  rollback: RollbackResult;
  cliMs: number;
  differences: string[];
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const scale = Number(arg('--scale') ?? (quick ? 2 : 10));
  const seconds = Number(arg('--seconds') ?? (quick ? 10 : 30));
  const runs = Number(arg('--runs') ?? (quick ? 1 : 3));
  const loadBefore = loadavg()[0];
  const source = await startPostgres({ name: 'bench-rollback-src', logical: true, settings: BENCH_SETTINGS });
  const target = await startPostgres({ name: 'bench-rollback-tgt', logical: true, settings: BENCH_SETTINGS });
  const temporal = await startTemporalServer();
  const taskQueue = `bench-rollback-${Date.now()}`;
  const worker = await startWorkerProcess({ temporalAddress: temporal.address, taskQueue });
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection });
  const cli = (args: string[]) =>
    run(process.execPath, [join(repoRoot(), 'dist', 'client', 'cli.js'), ...args], { env: { ...process.env, TEMPORAL_ADDRESS: temporal.address, PGFERRY_TASK_QUEUE: taskQueue }, maxBuffer: 64 * 1024 * 1024 });
  const dir = mkdtempSync(join(tmpdir(), 'pgferry-bench-rollback-'));
  const results: RunResult[] = [];
  try {
    console.log(`building pgbench scale ${scale}...`);
    await buildPgbenchDatabase(source, DB, scale);
    // A way back needs an identity on every table: pgbench_history has no key.
    await source.query('ALTER TABLE pgbench_history REPLICA IDENTITY FULL', DB);
    const spec = join(dir, 'spec.yaml');
    writeFileSync(spec, `source: ${source.url(DB)}\ntarget: ${target.url(DB)}\ntypes: [schema, full, incremental]\nincremental: { wayBack: true }\nprecheck: { ignore: [tables-without-key, ddl-during-migration] }\n`);

    for (let i = 1; i <= runs; i += 1) {
      // The source is read-only after a cutover until its rollback: writable again here.
      await recreateDatabase(target, DB);
      const id = `bench-rollback-${Date.now()}`;
      await cli(['start', spec, '--id', id]);
      await waitForPhase(client, id, 'streaming');
      const cutover = JSON.parse((await cli(['cutover', id, '--lock-source', '--json'])).stdout) as CutoverResult;
      if (!cutover.wayBack) throw new Error(`no way back: ${cutover.wayBackNotPrepared}`);
      await waitForPhase(client, id, 'fallback-ready');
      await target.query('CHECKPOINT');
      const sampler = await sampleLag(target, DB, cutover.wayBack.slot);
      const load = await runLoad(target, DB, seconds);
      // The sampler's session would be ended by the rollback's lock of the target: stopped first.
      const lag = summarize(await sampler.stop(), load.endedAt);
      const t0 = Date.now();
      const rollback = JSON.parse((await cli(['rollback', id, '--json'])).stdout) as RollbackResult;
      const cliMs = Date.now() - t0;
      await client.workflow.getHandle(id).result();
      const differences = await compareCounts(source, target, DB);
      results.push({ cutover, load, lag, rollback, cliMs, differences });
      console.log(`run ${i}: rollback downtime ${(rollback.downtimeMs / 1000).toFixed(2)} s (CLI ${(cliMs / 1000).toFixed(2)} s), ${rollback.changesApplied} changes replayed, peak reverse lag ${lag.peakSeconds.toFixed(2)} s`);
      // The target stays read-only after a rollback: the next run recreates it.
      await target.query(`ALTER DATABASE ${DB} RESET default_transaction_read_only`);
    }

    const downtimes = results.map((r) => r.rollback.downtimeMs / 1000);
    const row = (r: RunResult, i: number) =>
      `| ${i + 1} | ${(r.cutover.downtimeMs / 1000).toFixed(2)} | ${r.load.tps.toFixed(0)} | ${r.rollback.changesApplied} | ${r.lag.peakSeconds.toFixed(2)} | ${r.lag.avgSeconds.toFixed(2)} | **${(r.rollback.downtimeMs / 1000).toFixed(2)}** | ${(r.cliMs / 1000).toFixed(2)} | ${r.rollback.validation.mismatches.length + r.differences.length === 0 ? 'yes' : `NO: ${r.differences.join('; ')}`} |`;
    const report = [
      '# The way back: rollback downtime',
      '',
      `\`npm run bench:rollback${process.argv.slice(2).length ? ' -- ' + process.argv.slice(2).join(' ') : ''}\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC: ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, PostgreSQL 15, two clusters on one host (fsync and synchronous_commit on, shared_buffers 1GB); load average ${loadBefore.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after.`,
      '',
      `Database: pgbench scale ${scale}; pgbench_history given REPLICA IDENTITY FULL on the source. Spec: the default plus \`types: [schema, full, incremental]\`, \`incremental: { wayBack: true }\` and the precheck warnings pgbench causes, acknowledged. ` +
        `Each run: a fresh target database, the migration to streaming, \`pgferry cutover --lock-source\` (which prepares the way back), then \`pgbench -c 4 -j 2 -T ${seconds} -N\` on the **target** while its writes stream back, and \`pgferry rollback\` the moment the load ends (so the downtime includes draining whatever the reverse stream had not yet applied). ` +
        'Downtime is the workflow\'s count from the rollback request to the source writable again (target locked, reverse stream drained to a marker, sequences set, row counts compared, source unlocked); the CLI column adds the round trips through Temporal.',
      '',
      '| run | cutover downtime, s | target TPS | changes replayed | peak reverse lag, s | average reverse lag, s | rollback downtime, s | rollback as the CLI saw it, s | source = target |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|---|',
      ...results.map(row),
      '',
      `Median rollback downtime **${median(downtimes).toFixed(2)} s** (goal: under 3 s — ${median(downtimes) < 3 ? 'met' : 'NOT met'}; worst ${Math.max(...downtimes).toFixed(2)} s).`,
      '',
    ].join('\n');
    const file = join(repoRoot(), 'bench', quick ? 'RESULTS-rollback-quick.md' : 'RESULTS-rollback.md');
    writeFileSync(file, report);
    console.log(`\n${report}\nwritten to ${file}`);
  } finally {
    await connection.close().catch(() => undefined);
    await worker.stop().catch(() => undefined);
    await temporal.stop().catch(() => undefined);
    await source.stop().catch(() => undefined);
    await target.stop().catch(() => undefined);
  }
}

async function waitForPhase(client: Client, id: string, phase: MigrationProgress['phase']): Promise<void> {
  const handle = client.workflow.getHandle(id);
  for (;;) {
    const progress = await handle.query(progressQuery);
    if (progress.phase === phase) return;
    if (['failed', 'cancelled', 'done'].includes(progress.phase)) throw new Error(`migration ${progress.phase}: ${progress.warnings.join('; ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
