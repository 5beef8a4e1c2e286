/**
 * The contenders: pgferry and its peers, each migrating `db` from source to an empty target
 * database of the same name. Each returns the peak client-side memory it used.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tableMbPerSecond, type MigrationReport, type PhaseTiming } from '../common/plan';
import type { PgCluster } from '../launch/postgres';
import { PG_BIN } from '../launch/postgres';
import { startWorkerProcess, type WorkerProcess } from '../launch/worker';
import { repoRoot } from '../launch/repo-root';
import { peakRssOf, sampleTreeRss } from './rss';

export interface RunContext {
  source: PgCluster;
  target: PgCluster;
  db: string;
  temporalAddress: string;
  /** pgferry's parallelism.tables; absent: its default (the spec a user writes). */
  jobs?: number;
}

/** What one run gave: the client's peak memory, and pgferry's own per-phase timings. */
export interface RunResult {
  peakRssBytes: number;
  phases?: PhaseTiming[];
}

export interface Tool {
  name: string;
  available(): string | undefined; // a reason when it cannot run here
  /**
   * Starts, before the clock starts, a service the tool needs running (pgferry's worker: a
   * deployment keeps one up, as a database keeps its server up). Returns what `run` is given.
   */
  prepare?(ctx: RunContext): Promise<Prepared>;
  run(ctx: RunContext, prepared?: Prepared): Promise<RunResult>;
}

export interface Prepared {
  taskQueue: string;
  worker: WorkerProcess;
  /** After the clock stopped. */
  stop(): Promise<void>;
}

/**
 * Runs a shell command line, sampling the memory of everything it starts (unless `sampleRss`
 * is false: then the caller measures memory another way and the sampling's CPU is spared).
 */
export function shell(command: string, env: Record<string, string> = {}, sampleRss = true): Promise<{ peakRssBytes: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', command], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
    const sampler = sampleRss ? sampleTreeRss(child.pid!) : { stop: () => 0 };
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-3000)));
    child.on('close', (code) => {
      const peakRssBytes = sampler.stop();
      if (code === 0) resolve({ peakRssBytes });
      else reject(new Error(`exit ${code}: ${command}\n${stderr}`));
    });
  });
}

export const conn = (c: PgCluster, db: string) => `-h ${c.host} -p ${c.port} -U postgres -d ${db}`;
const uri = (c: PgCluster, db: string) => `postgres://postgres@${c.host}:${c.port}/${db}`;

function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

/**
 * The spec pgferry runs with: what a user writes (source, target, and the acknowledgement of
 * the tables without a key, nokey and pgbench_history), plus `--jobs` and `extraSpec` when given.
 */
export function benchSpec(ctx: Pick<RunContext, 'source' | 'target' | 'db' | 'jobs'>, extraSpec = ''): string {
  const jobs = ctx.jobs === undefined ? '' : `parallelism: { tables: ${ctx.jobs} }\n`;
  return `source: ${ctx.source.url(ctx.db)}\ntarget: ${ctx.target.url(ctx.db)}\nprecheck: { ignore: [tables-without-key] }\n${jobs}${extraSpec}`;
}

/** pgferry with the default spec, or with `extraSpec` (YAML lines) added to it, under another name. */
export function pgferryTool(name = 'pgferry', extraSpec = ''): Tool {
  return {
  name,
  available: () => undefined,
  async prepare(ctx) {
    // A fresh worker per run, so its peak RSS belongs to this migration alone.
    const taskQueue = `bench-${Date.now()}`;
    const worker = await startWorkerProcess({ temporalAddress: ctx.temporalAddress, taskQueue });
    return { taskQueue, worker, stop: () => worker.stop() };
  },
  async run(ctx, prepared) {
    const root = repoRoot();
    const dir = mkdtempSync(join(tmpdir(), 'pgferry-bench-'));
    const spec = join(dir, 'spec.yaml');
    writeFileSync(spec, benchSpec(ctx, extraSpec));
    if (!prepared) throw new Error('pgferry runs with the worker prepare() started');
    const { taskQueue, worker } = prepared;
    try {
      const env = { TEMPORAL_ADDRESS: ctx.temporalAddress, PGFERRY_TASK_QUEUE: taskQueue };
      // Its memory is the worker's peak (VmHWM, below), not the CLI's: no sampling.
      await shell(`node ${join(root, 'dist', 'client', 'cli.js')} start ${spec} --wait --json > ${join(dir, 'report.json')}`, env, false);
      const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')).report as MigrationReport;
      console.log(`    pgferry phases: ${report.phases.map((p) => `${p.phase} ${(p.ms / 1000).toFixed(1)} s`).join(', ')}`);
      const slowest = [...report.tables].sort((a, b) => b.ms - a.ms).slice(0, 3);
      console.log(`    slowest tables: ${slowest.map((t) => `${t.name} ${(t.ms / 1000).toFixed(1)} s (${tableMbPerSecond(t)} MB/s)`).join(', ')}`);
      return { peakRssBytes: peakRssOf(worker.pid), phases: report.phases };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
  };
}

export const pgferry: Tool = pgferryTool();

export const dumpPipePsql: Tool = {
  name: 'pg_dump | psql',
  available: () => undefined,
  run: (ctx) => shell(`${PG_BIN}/pg_dump ${conn(ctx.source, ctx.db)} | ${PG_BIN}/psql -X -q -v ON_ERROR_STOP=1 ${conn(ctx.target, ctx.db)} > /dev/null`),
};

export const dumpRestore: Tool = {
  name: `pg_dump -Fd -j 2 + pg_restore -j 2`,
  available: () => undefined,
  async run(ctx) {
    const dir = mkdtempSync(join(tmpdir(), 'pgferry-bench-dump-'));
    try {
      return await shell(`${PG_BIN}/pg_dump -Fd -j 2 -f ${dir}/dump ${conn(ctx.source, ctx.db)} && ${PG_BIN}/pg_restore -j 2 ${conn(ctx.target, ctx.db)} ${dir}/dump`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

export const pgcopydb: Tool = {
  name: 'pgcopydb clone',
  available: () => (hasCommand('pgcopydb') ? undefined : 'pgcopydb is not installed (bash scripts/setup.sh --bench installs it)'),
  async run(ctx) {
    const dir = mkdtempSync(join(tmpdir(), 'pgferry-bench-pgcopydb-'));
    try {
      return await shell(
        `pgcopydb clone --source ${uri(ctx.source, ctx.db)} --target ${uri(ctx.target, ctx.db)} --dir ${dir}/work --table-jobs 2 --index-jobs 2 --split-tables-larger-than 200MB --no-owner > /dev/null`,
        { PGCOPYDB_LOG_LEVEL: 'error' },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

export const ALL_TOOLS: Tool[] = [pgferry, dumpPipePsql, dumpRestore, pgcopydb];
