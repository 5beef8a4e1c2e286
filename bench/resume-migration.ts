/**
 * One timed migration of the resume benchmark, driven as an operator drives one: `pgferry
 * start` of a spec with the default settings, for an incremental migration `pgferry cutover` as
 * soon as it streams, until the workflow's result; with the kill of resume-kill.ts on the way
 * when asked. The clock runs from `pgferry start` to the result. Its workers are fresh, started
 * before the clock and stopped after it.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { CutoverResult, MigrationReport } from '../common/plan';
import type { PgCluster } from '../launch/postgres';
import { repoRoot } from '../launch/repo-root';
import { progressQuery } from '../workflows/messages';
import { killHalfway, type KillPlan, type KillRecord } from './resume-kill';
import { WorkerPool } from './resume-workers';
import { diagnoseWorkflow } from './workflow-diagnosis';

const exec = promisify(execFile);

export type Kind = 'full' | 'incremental';

export interface RunSetup {
  client: Client;
  temporalAddress: string;
  source: PgCluster;
  target: PgCluster;
  db: string;
  /** copy.splitLargerThan written into the spec (none: the spec's default). */
  split?: string;
  workers: number;
  timeoutMs: number;
  /** Where spec files go (the caller removes it). */
  workDir: string;
}

export interface RunOutcome {
  kind: Kind;
  workflowId: string;
  seconds: number;
  report: MigrationReport;
  kill?: KillRecord;
  cutover?: CutoverResult;
}

type Cli = (args: string[]) => Promise<string>;

/** The default spec but for the types; the precheck's warnings acknowledged are about pgbench, not tuning. */
export function specYaml(setup: RunSetup, kind: Kind): string {
  const lines = [
    `source: ${setup.source.url(setup.db)}`,
    `target: ${setup.target.url(setup.db)}`,
    kind === 'full' ? 'types: [schema, full]' : 'types: [schema, full, incremental]',
    // pgbench_history has no key; a quiet source runs no DDL; a stray autovacuum commit on the quiet source must not stop a full run
    kind === 'full' ? 'precheck: { ignore: [tables-without-key, source-writes] }' : 'precheck: { ignore: [tables-without-key, ddl-during-migration] }',
  ];
  if (setup.split) lines.push(`copy: { splitLargerThan: ${setup.split} }`);
  return lines.join('\n') + '\n';
}

export async function timedMigration(setup: RunSetup, kind: Kind, kill?: KillPlan): Promise<RunOutcome> {
  const stamp = Date.now();
  const workflowId = `bench-resume-${kind}-${kill ? `kill-${kill.victim}` : 'nokill'}-${stamp}`;
  const taskQueue = `bench-resume-${stamp}`;
  const pool = await WorkerPool.start(setup.temporalAddress, taskQueue, setup.workers);
  const spec = join(setup.workDir, `${workflowId}.yaml`);
  writeFileSync(spec, specYaml(setup, kind));
  const cli: Cli = async (args) => {
    try {
      return (await exec(process.execPath, [join(repoRoot(), 'dist', 'client', 'cli.js'), ...args], { env: { ...process.env, TEMPORAL_ADDRESS: setup.temporalAddress, PGFERRY_TASK_QUEUE: taskQueue }, maxBuffer: 64 * 1024 * 1024 })).stdout;
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      throw new Error(`pgferry ${args[0]} failed: ${(e.stderr || e.stdout || e.message).trim()}`);
    }
  };
  const handle = setup.client.workflow.getHandle(workflowId);
  const run = { over: false }; // ends the polling loops, on success, failure or timeout
  try {
    const startedAt = Date.now();
    await cli(['start', spec, '--id', workflowId]);
    const finishing = finish(handle, kind, cli, run).finally(() => (run.over = true));
    const killing = kill ? killHalfway(setup.client, workflowId, pool, kill, startedAt, () => run.over) : Promise.resolve(undefined);
    const [done, killRecord] = await withDeadline(Promise.all([finishing, killing]), setup.timeoutMs, `${kind} migration ${workflowId}`);
    return { kind, workflowId, seconds: (done.endedAt - startedAt) / 1000, report: done.report, cutover: done.cutover, ...(killRecord ? { kill: killRecord } : {}) };
  } catch (err) {
    run.over = true;
    const diagnosis = await diagnoseWorkflow(setup.client, workflowId).catch((e) => `(no diagnosis: ${(e as Error).message})`);
    await handle.terminate('pgferry benchmark: the run failed').catch(() => undefined);
    throw new Error(`${(err as Error).message}\n${diagnosis}`);
  } finally {
    await pool.stop();
  }
}

/** Full: the result. Incremental: the streaming phase, the cutover, then the result. */
async function finish(handle: WorkflowHandle, kind: Kind, cli: Cli, run: { over: boolean }): Promise<{ report: MigrationReport; cutover?: CutoverResult; endedAt: number }> {
  let cutover: CutoverResult | undefined;
  if (kind === 'incremental') {
    await untilStreaming(handle, run);
    cutover = JSON.parse(await cli(['cutover', handle.workflowId, '--json'])) as CutoverResult;
  }
  const report = (await handle.result()) as MigrationReport;
  return { report, cutover, endedAt: Date.now() };
}

async function untilStreaming(handle: WorkflowHandle, run: { over: boolean }): Promise<void> {
  while (!run.over) {
    const { status } = await handle.describe();
    if (status.name !== 'RUNNING') {
      await handle.result(); // throws the failure
      throw new Error(`${handle.workflowId} ended (${status.name}) before it streamed changes`);
    }
    // A query needs a worker: none may answer for a moment after the kill.
    const progress = await handle.query(progressQuery).catch(() => undefined);
    if (progress?.phase === 'streaming') return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('stopped waiting for the streaming phase');
}

function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done after ${Math.round(ms / 1000)} s (--timeout-minutes)`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
