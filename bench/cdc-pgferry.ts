/**
 * pgferry as a change-capture contender, driven exactly as an operator would: `pgferry start` of
 * a `[schema, full, incremental]` spec on a fresh worker process, the `pauseStream` signal of its
 * stream workflow to pause and resume, and `pgferry cutover`. Failures are reported with the
 * workflow's innermost messages and its pending activities' last failures, verbatim: they are
 * the useful part of a benchmark that fails.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import type { CutoverResult } from '../common/plan';
import { replicationNames } from '../common/replication-names';
import { repoRoot } from '../launch/repo-root';
import { startWorkerProcess, type WorkerProcess } from '../launch/worker';
import type { CdcContender, CdcContext } from './cdc-contender';
import { slotActive } from './cdc-lag';
import { peakRssOf } from './rss';
import { progressQuery, streamProgressQuery } from '../workflows/messages';

const run = promisify(execFile);

/** Every message along a failure's cause chain: the outer ones say where, the inner one why. */
export function failureChain(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    const m = e instanceof Error ? e.message : String(e);
    if (m && !parts.includes(m)) parts.push(m);
    if (!(e instanceof Error)) break;
  }
  return parts.join(' ← ');
}

export function pgferryContender(): CdcContender {
  let ctx: CdcContext;
  let worker: WorkerProcess | undefined;
  let connection: Connection | undefined;
  let client: Client;
  let dir: string | undefined;
  let slot = '';
  const id = `bench-cdc-${Date.now()}`;
  const streamId = `${id}/stream`;
  const names = replicationNames(id);
  const migration = () => client.workflow.getHandle(id);
  const stream = () => client.workflow.getHandle(streamId);
  const streamProgress = () => stream().query(streamProgressQuery);

  /** What Temporal knows about a workflow that is stuck or gone: its status, its failure, its retrying activities. */
  async function diagnose(handle: WorkflowHandle): Promise<string> {
    const d = await handle.describe().catch(() => undefined);
    if (!d) return `${handle.workflowId}: not found`;
    const lines = [`${handle.workflowId}: ${d.status.name}`];
    if (d.status.name === 'FAILED') await handle.result().catch((err) => lines.push(failureChain(err)));
    for (const a of d.raw.pendingActivities ?? []) {
      if (a.lastFailure?.message) lines.push(`activity ${a.activityType?.name} attempt ${a.attempt}: ${a.lastFailure.message}${a.lastFailure.cause?.message ? ` ← ${a.lastFailure.cause.message}` : ''}`);
    }
    return lines.join('\n');
  }

  async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const d = await migration().describe();
      if (d.status.name !== 'RUNNING') throw new Error(`while waiting for ${what}, the migration ended:\n${await diagnose(migration())}\n${await diagnose(stream())}`);
      if (await check().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`${what}: not reached after ${timeoutMs / 1000} s\n${await diagnose(migration())}\n${await diagnose(stream())}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  const cli = (args: string[]) =>
    run(process.execPath, [join(repoRoot(), 'dist', 'client', 'cli.js'), ...args], {
      env: { ...process.env, TEMPORAL_ADDRESS: ctx.temporalAddress, PGFERRY_TASK_QUEUE: `bench-${id}` },
      maxBuffer: 16 * 1024 * 1024,
    });

  return {
    name: 'pgferry',
    slot: () => slot,
    async setup(c) {
      ctx = c;
      if (!ctx.temporalAddress) throw new Error('pgferry needs a Temporal server');
      const { source, target, db } = ctx;
      await target.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      await target.createDatabase(db);
      dir = mkdtempSync(join(tmpdir(), 'pgferry-bench-cdc-'));
      const spec = join(dir, 'spec.yaml');
      // The defaults but what a change stream of pgbench needs: its keyless history table takes
      // only inserts (and pgbench's truncate), and pgbench's own DDL is acknowledged.
      writeFileSync(spec, `source: ${source.url(db)}\ntarget: ${target.url(db)}\ntypes: [schema, full, incremental]\nincremental:\n  tables:\n    public.pgbench_history: { operations: [insert, truncate] }\nprecheck: { ignore: [tables-without-key, ddl-during-migration] }\n`); // pgbench_history
      worker = await startWorkerProcess({ temporalAddress: ctx.temporalAddress, taskQueue: `bench-${id}` });
      connection = await Connection.connect({ address: ctx.temporalAddress });
      client = new Client({ connection });
      await cli(['start', spec, '--id', id]);
      await until('the streaming phase', 30 * 60_000, async () => (await migration().query(progressQuery)).phase === 'streaming');
      await until('the stream reading its slot', 120_000, async () => {
        const [row] = await source.query<{ slot_name: string }>(
          `SELECT slot_name FROM pg_replication_slots WHERE left(slot_name, length($1)) = $1 AND active ORDER BY slot_name DESC LIMIT 1`,
          db,
          [names.slotPrefix],
        );
        slot = row?.slot_name ?? '';
        return slot !== '';
      });
    },
    async ownLag() {
      return (await streamProgress()).lagSeconds;
    },
    async pause() {
      await stream().signal('pauseStream', { paused: true });
      await until('the stream paused', 60_000, async () => (await streamProgress()).state === 'paused');
      // A paused stream closes its replication connection (as native's DISABLE stops its walsender): wait for it to go.
      await until('the walsender stopped', 60_000, async () => !(await slotActive(ctx.source, ctx.db, slot)));
    },
    async resume() {
      await stream().signal('pauseStream', { paused: false });
    },
    async cutover(writesStoppedAt) {
      let stdout: string;
      try {
        ({ stdout } = await cli(['cutover', id, '--json']));
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string; message: string };
        throw new Error(`pgferry cutover failed: ${(e.stderr || e.stdout || e.message).trim()}\n${await diagnose(migration())}`);
      }
      const wallMs = Date.now() - writesStoppedAt;
      const result = JSON.parse(stdout) as CutoverResult;
      const done = await Promise.race([migration().result().then(() => 'completed', (err) => `failed after cutover: ${failureChain(err)}`), new Promise<string>((r) => setTimeout(() => r('still running 60 s after cutover'), 60_000))]);
      const mismatches = result.validation.mismatches.map((m) => `${m.name}: ${m.actualRows} on target, ${m.expectedRows} on source`);
      const detail = [`${result.transactionsApplied} transactions streamed`, `migration ${done}`, ...(mismatches.length ? [`validation: ${mismatches.join('; ')}`] : [])];
      return { downtimeMs: result.downtimeMs, wallMs, detail: detail.join(', ') };
    },
    workerPid: () => worker?.pid,
    resetPeakRss() {
      // Writing 5 to clear_refs resets the kernel's VmHWM of that process (Linux ≥ 4.0).
      if (worker) writeFileSync(`/proc/${worker.pid}/clear_refs`, '5');
    },
    peakRssBytes: () => (worker ? peakRssOf(worker.pid) : 0),
    async teardown() {
      if (connection) {
        const d = await migration().describe().catch(() => undefined);
        if (d?.status.name === 'RUNNING') await migration().terminate('benchmark teardown').catch(() => undefined);
        await connection.close();
      }
      await worker?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
      if (!ctx) return;
      // The walsender of a killed stream exits a moment later: retry until its slot can be dropped.
      for (let i = 0; i < 50; i += 1) {
        const slots = await ctx.source.query<{ slot_name: string; active: boolean }>(`SELECT slot_name, active FROM pg_replication_slots WHERE left(slot_name, length($1)) = $1`, ctx.db, [names.slotPrefix]);
        if (!slots.length) break;
        for (const s of slots.filter((s) => !s.active)) await ctx.source.query('SELECT pg_drop_replication_slot($1)', ctx.db, [s.slot_name]).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 200));
      }
      await ctx.source.query(`DROP PUBLICATION IF EXISTS ${names.publication}`, ctx.db).catch(() => undefined);
    },
  };
}
