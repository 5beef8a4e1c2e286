/**
 * `npm run bench:resume`: the cost of one worker killed in the middle of a big table's copy
 * (issue 13 part 5 b, c). One database: pgbench at --scale (default 160: pgbench_accounts over
 * 2 GB, split into chunks by copy.splitLargerThan 1GB) and its small tables. For a full
 * and an incremental migration with the default spec, runs without a kill alternate with runs
 * where the worker holding the source snapshot is SIGKILLed when the big table is half copied
 * (two workers serve the migration; the killed one is replaced at once). Every target is checked
 * against the source. Writes bench/RESULTS-resume.md: the ratio time with ÷ time without (goal
 * ≤ 1.2), every run with what was copied again, and a projection of 1 TB on 1, 4 and 16 workers
 * from the per-lane rate. A partial run writes RESULTS-resume-partial.md.
 *
 *   --scale N             pgbench scale (default 160)
 *   --runs N              rounds, each one run with and one without the kill per migration (default 2)
 *   --split SIZE          copy.splitLargerThan (default 1GB, below the spec's default: what is
 *                         measured is how a split table resumes)
 *   --only full|incremental
 *   --victims L           holder, or holder,other: also kill a worker that does not hold the snapshot
 *   --timeout-minutes N   per migration (default 60)
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { specSchema } from '../common/spec';
import { PG_BIN, startPostgres, type PgCluster } from '../launch/postgres';
import { startTemporalServer } from '../launch/temporal';
import { repoRoot } from '../launch/repo-root';
import { arg, recreateDatabase } from './bench-helpers';
import { BENCH_SETTINGS } from './settings';
import { verifyTarget } from './verify';
import { dropReplicationLeftovers } from './replication-leftovers';
import { interruptedUnits } from './copy-attempts';
import { buildDataset, type Dataset } from './resume-dataset';
import { bigTableLanes } from './resume-lanes';
import type { Victim } from './resume-kill';
import { timedMigration, type Kind, type RunSetup } from './resume-migration';
import { renderResults, type ResumeResults, type RunRecord } from './resume-report';

const exec = promisify(execFile);
const DB = 'resume';
const WORKERS = 2;
const KILL_FRACTION = 0.5;
/** The issue asks for a table of at least 2 GB. */
const BIG_ENOUGH = 2e9;

interface Options {
  scale: number;
  runs: number;
  split: string;
  kinds: Kind[];
  victims: Victim[];
  timeoutMs: number;
  partial: string[];
}

/** The table is split, whatever the spec's default: a chunk lost with its worker is what this measures. */
const RESUME_SPLIT = '1GB';

function options(): Options {
  const only = arg('--only');
  if (only !== undefined && only !== 'full' && only !== 'incremental') throw new Error(`--only: full or incremental, not ${only}`);
  const victims = (arg('--victims') ?? 'holder').split(',');
  if (!victims.every((v) => v === 'holder' || v === 'other')) throw new Error(`--victims: holder and/or other, not ${victims.join(',')}`);
  const partial = [
    ...(arg('--scale') !== undefined ? [`--scale ${arg('--scale')}`] : []),
    ...(arg('--split') !== undefined ? [`--split ${arg('--split')}`] : []),
    ...(only ? [`--only ${only}`] : []),
    ...(victims.includes('holder') ? [] : [`--victims ${victims.join(',')}`]),
  ];
  const o = { scale: Number(arg('--scale') ?? 160), runs: Number(arg('--runs') ?? 2), timeoutMs: Number(arg('--timeout-minutes') ?? 60) * 60_000 };
  for (const [name, value] of Object.entries(o)) if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name}: a positive number, not ${value}`);
  return { ...o, split: arg('--split') ?? RESUME_SPLIT, kinds: only ? [only] : ['full', 'incremental'], victims: victims as Victim[], partial };
}

async function main(): Promise<void> {
  const opts = options();
  const temporal = await startTemporalServer();
  const clusters: PgCluster[] = [];
  let connection: Connection | undefined;
  const workDir = mkdtempSync(join(tmpdir(), 'pgferry-bench-resume-'));
  let stopped: Promise<void> | undefined;
  // Once, whichever comes first: the end, a failure, or Ctrl-C (whose default would leave the
  // clusters' data directories, gigabytes at full scale, in /tmp; the exit handlers of
  // launch/worker.ts kill the worker processes).
  const shutdown = () =>
    (stopped ??= (async () => {
      await connection?.close().catch(() => undefined);
      for (const c of clusters) await c.stop();
      await temporal.stop();
      rmSync(workDir, { recursive: true, force: true });
    })());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`${signal}: stopping the clusters and Temporal...`);
      void shutdown().finally(() => process.exit(130));
    });
  }
  try {
    const source = await startPostgres({ name: 'bench-resume-src', logical: true, settings: BENCH_SETTINGS });
    clusters.push(source);
    const target = await startPostgres({ name: 'bench-resume-tgt', settings: BENCH_SETTINGS });
    clusters.push(target);
    connection = await Connection.connect({ address: temporal.address });
    const client = new Client({ connection });

    console.log(`building pgbench scale ${opts.scale}...`);
    const dataset = await buildDataset(source, DB, opts.scale);
    console.log(`pgbench_accounts: ${(dataset.bigTableBytes / 2 ** 30).toFixed(2)} GiB, database ${(dataset.databaseBytes / 2 ** 30).toFixed(2)} GiB`);
    if (dataset.bigTableBytes < BIG_ENOUGH) opts.partial.push(`pgbench_accounts under 2 GB`);
    await warmUp(source, target);

    const setup: RunSetup = { client, temporalAddress: temporal.address, source, target, db: DB, split: opts.split, workers: WORKERS, timeoutMs: opts.timeoutMs, workDir };
    const runs: RunRecord[] = [];
    for (let round = 0; round < opts.runs; round += 1) {
      for (const kind of opts.kinds) {
        // Rotating which goes first, so that no variant always follows the same one.
        const variants: (Victim | undefined)[] = [undefined, ...opts.victims];
        const shift = round % variants.length;
        for (const victim of [...variants.slice(shift), ...variants.slice(0, shift)]) runs.push(await oneRun(setup, dataset, kind, victim));
      }
    }

    const results = await collect(client, opts, source, dataset, runs);
    const file = join(repoRoot(), 'bench', opts.partial.length ? 'RESULTS-resume-partial.md' : 'RESULTS-resume.md');
    const text = renderResults(results);
    writeFileSync(file, text);
    console.log(`\n${text}\nwritten to ${file}`);
  } finally {
    await shutdown();
  }
}

async function oneRun(setup: RunSetup, dataset: Dataset, kind: Kind, victim?: Victim): Promise<RunRecord> {
  const { source, target, db } = setup;
  await recreateDatabase(target, db);
  await source.query('CHECKPOINT');
  console.log(`${kind}, ${victim === 'holder' ? 'snapshot holder killed half-way' : victim === 'other' ? 'a worker not holding the snapshot killed half-way' : 'no kill'}...`);
  const outcome = await timedMigration(setup, kind, victim ? { victim, target, db, sourceHeapBytes: dataset.bigHeapBytes, fraction: KILL_FRACTION } : undefined);
  const problems = [...(await verifyTarget(source, target, db)), ...outcome.report.validation.mismatches.map((m) => `pgferry validation: ${m.schema}.${m.name}`)];
  if (problems.length) throw new Error(`${outcome.workflowId}: the target differs from the source: ${problems.slice(0, 5).join('; ')}`);
  const leftovers = await dropReplicationLeftovers(source, db);
  const interrupted = await interruptedUnits(setup.client, outcome.workflowId);
  const again = interrupted.length ? `, run again: ${interrupted.join(', ')}` : '';
  const redone = outcome.report.redone ? `, redone ${outcome.report.redone.tables} tables ${(outcome.report.redone.bytes / 2 ** 20).toFixed(0)} MiB` : '';
  const k = outcome.kill;
  const newSnapshot = k?.newHolderAfterSeconds === undefined ? '' : `, new snapshot ${k.newHolderAfterSeconds.toFixed(1)} s later`;
  const kill = k ? `, killed ${k.worker} (${k.victim}, chunks in flight: ${k.chunksInFlight}) at ${k.atSeconds.toFixed(1)} s (heap ${Math.round(k.heapFraction * 100)} %)${newSnapshot}` : '';
  console.log(`  ${outcome.seconds.toFixed(1)} s (verified)${kill}${redone}${again}${leftovers.length ? `, left on source: ${leftovers.join(', ')}` : ''}`);
  return { ...outcome, leftovers, interrupted };
}

/** The first untimed migration into a fresh cluster is slower whatever runs it (see README.md). */
async function warmUp(source: PgCluster, target: PgCluster): Promise<void> {
  console.log('warm-up: pg_dump | psql (untimed)...');
  await recreateDatabase(target, DB);
  const conn = (c: PgCluster) => `-h ${c.host} -p ${c.port} -U postgres ${DB}`;
  await exec('bash', ['-o', 'pipefail', '-c', `${join(PG_BIN, 'pg_dump')} ${conn(source)} | ${join(PG_BIN, 'psql')} -X -q -v ON_ERROR_STOP=1 ${conn(target)} > /dev/null`], { maxBuffer: 16 * 1024 * 1024 });
}

async function collect(client: Client, opts: Options, source: PgCluster, dataset: Dataset, runs: RunRecord[]): Promise<ResumeResults> {
  const reference = runs.find((x) => x.kind === 'full' && !x.kill) ?? runs.find((x) => !x.kill);
  const [{ server_version: postgres }] = await source.query<{ server_version: string }>('SHOW server_version');
  const defaults = specSchema.parse({ source: 'postgres://u@h/d', target: 'postgres://u@h/d' });
  return {
    command: `npm run bench:resume${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    machine: { cpus: cpus().length, model: cpuModel(), memoryGiB: totalmem() / 2 ** 30, postgres },
    dataset,
    split: opts.split === defaults.copy.splitLargerThan ? `${opts.split} (default)` : opts.split,
    lanesPerWorker: defaults.parallelism.tables,
    workers: WORKERS,
    killFraction: KILL_FRACTION,
    runs,
    lanes: reference
      ? {
          from: `${runs.indexOf(reference) + 1} (${reference.kind}, no kill)`,
          throughput: await bigTableLanes(client, reference.workflowId),
          dataPhaseMs: reference.report.phases.find((p) => p.phase === 'data')?.ms ?? 0,
          totalMs: reference.seconds * 1000,
        }
      : undefined,
    partial: opts.partial,
  };
}

function cpuModel(): string {
  const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
  return line?.split(':')[1]?.trim() ?? cpus()[0]?.model ?? 'unknown CPU';
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
