/**
 * What the end-to-end tests share: a source and a target cluster, a worker process on its own
 * task queue, a Temporal client, and the `pgferry` CLI run as a real child process.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { stringify } from 'yaml';
import { startPostgres, type PgCluster } from '../../launch/postgres';
import { startWorkerProcess, type WorkerProcess } from '../../launch/worker';
import { repoRoot } from '../../launch/repo-root';
import { progressQuery } from '../../workflows/messages';

export const REPO = repoRoot();
const CLI = join(REPO, 'dist', 'client', 'cli.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `pgferry ...` against the test Temporal server and task queue; an undefined value removes a variable. */
export function runCli(args: string[], env: Record<string, string | undefined>, timeoutMs = 240_000): Promise<CliResult> {
  return new Promise((done) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

export function writeSpec(spec: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'pgferry-spec-'));
  const file = join(dir, 'spec.yaml');
  writeFileSync(file, stringify(spec));
  return file;
}

export async function temporalClient(address: string): Promise<Client> {
  return new Client({ connection: await Connection.connect({ address }) });
}

let queueCounter = 0;
export function uniqueTaskQueue(name: string): string {
  queueCounter += 1;
  return `test-${name}-${process.pid}-${queueCounter}-${Date.now()}`;
}

export interface Harness {
  source: PgCluster;
  target: PgCluster;
  worker: WorkerProcess;
  client: Client;
  taskQueue: string;
  cliEnv: Record<string, string>;
  /** Starts another worker on the same task queue (after the first was killed). */
  restartWorker(): Promise<WorkerProcess>;
  close(): Promise<void>;
}

export async function startHarness(opts: {
  name: string;
  temporalAddress: string;
  sourcePassword?: string;
  targetPassword?: string;
  workerEnv?: Record<string, string>;
  /** Server settings for both clusters. */
  settings?: Record<string, string>;
  /** The source accepts TLS connections only. */
  sourceTlsOnly?: boolean;
  /** The target has wal_level = logical too (the way back streams from it). */
  targetLogical?: boolean;
}): Promise<Harness> {
  const source = await startPostgres({ name: `${opts.name}-src`, logical: true, password: opts.sourcePassword, settings: opts.settings, tlsOnly: opts.sourceTlsOnly });
  const target = await startPostgres({ name: `${opts.name}-tgt`, logical: opts.targetLogical, password: opts.targetPassword, settings: opts.settings });
  const taskQueue = uniqueTaskQueue(opts.name);
  const workerEnv = opts.workerEnv ?? {};
  let worker = await startWorkerProcess({ temporalAddress: opts.temporalAddress, taskQueue, env: workerEnv });
  const client = await temporalClient(opts.temporalAddress);
  const harness: Harness = {
    source,
    target,
    worker,
    client,
    taskQueue,
    cliEnv: { TEMPORAL_ADDRESS: opts.temporalAddress, PGFERRY_TASK_QUEUE: taskQueue },
    async restartWorker() {
      worker = await startWorkerProcess({ temporalAddress: opts.temporalAddress, taskQueue, env: workerEnv });
      harness.worker = worker;
      return worker;
    },
    async close() {
      await harness.worker.stop().catch(() => undefined);
      await client.connection.close().catch(() => undefined);
      await source.stop().catch(() => undefined);
      await target.stop().catch(() => undefined);
    },
  };
  return harness;
}

/** Every user table (with leaf partitions) and its order-independent checksum. */
export async function tableChecksums(cluster: PgCluster, db: string): Promise<Record<string, string>> {
  const tables = await cluster.query<{ t: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1`,
    db,
  );
  const out: Record<string, string> = {};
  for (const { t } of tables) {
    const [row] = await cluster.query<{ c: string }>(
      `SELECT count(*) || ':' || coalesce(sum(hashtextextended(x::text, 0)::numeric), 0) AS c FROM ONLY ${t} x`,
      db,
    );
    out[t] = row.c;
  }
  return out;
}

/** An order-independent checksum of a query's rows (compare a mapped target table with the source's SELECT). */
export async function queryChecksum(cluster: PgCluster, db: string, query: string): Promise<string> {
  const [row] = await cluster.query<{ c: string }>(`SELECT count(*) || ':' || coalesce(sum(hashtextextended(x::text, 0)::numeric), 0) AS c FROM (${query}) x`, db);
  return row.c;
}

/** Tables in the target database (to assert that a failed run left it untouched). */
export async function userRelations(cluster: PgCluster, db: string): Promise<string[]> {
  const rows = await cluster.query<{ r: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS r FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1`,
    db,
  );
  return rows.map((r) => r.r);
}

export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 120_000, everyMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (
      await check().catch((err: unknown) => {
        if ((err as { fatal?: boolean }).fatal) throw err; // no point waiting any longer
        return false;
      })
    )
      return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * What a workflow (and its running children) is doing, for a test that timed out waiting on it:
 * its status, phase, and each pending activity with its attempt and last failure.
 */
export async function explainWorkflow(client: Client, workflowId: string, depth = 2): Promise<string> {
  try {
    const handle = client.workflow.getHandle(workflowId);
    const d = await handle.describe();
    const phase = d.status.name === 'RUNNING' ? await handle.query(progressQuery).then((p) => p.phase, () => '?') : '-';
    const lines = [`${workflowId}: ${d.status.name}, phase ${phase}`];
    for (const a of d.raw.pendingActivities ?? []) {
      const failure = a.lastFailure?.message ? `, last failure: ${a.lastFailure.message}` : '';
      lines.push(`  activity ${a.activityType?.name} attempt ${a.attempt} state ${a.state} on ${a.lastWorkerIdentity || '-'}${failure}`);
    }
    for (const c of d.raw.pendingChildren ?? []) {
      if (depth > 0 && c.workflowId) lines.push((await explainWorkflow(client, c.workflowId, depth - 1)).replace(/^/gm, '  '));
    }
    return lines.join('\n');
  } catch (err) {
    return `${workflowId}: cannot describe (${(err as Error).message})`;
  }
}

/** waitFor, and on timeout the error says what the workflow was doing. */
export async function waitForWorkflow(client: Client, workflowId: string, what: string, check: () => Promise<boolean>, timeoutMs = 120_000, everyMs = 200): Promise<void> {
  try {
    await waitFor(what, check, timeoutMs, everyMs);
  } catch (err) {
    if ((err as { fatal?: boolean }).fatal) throw err;
    throw new Error(`${(err as Error).message}\n${await explainWorkflow(client, workflowId)}`);
  }
}

/** Waits for a migration to reach a phase; fails at once, with its error, if it ends first. */
export async function waitForPhase(client: Client, workflowId: string, phase: string, timeoutMs = 180_000): Promise<void> {
  const handle = client.workflow.getHandle(workflowId);
  await waitForWorkflow(
    client,
    workflowId,
    `${workflowId} to reach phase ${phase}`,
    async () => {
      const { status } = await handle.describe();
      if (status.name !== 'RUNNING') {
        const outcome = await handle.result().then(
          () => 'completed',
          (err: Error) => `${err.message}: ${(err.cause as Error | undefined)?.message ?? ''}`,
        );
        throw Object.assign(new Error(`${workflowId} ended (${status.name}) before phase ${phase}: ${outcome}`), { fatal: true });
      }
      return (await handle.query(progressQuery)).phase === phase;
    },
    timeoutMs,
    200,
  );
}
