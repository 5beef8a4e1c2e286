/**
 * The kill: once the big table's copy is about half done, SIGKILL the worker that runs the
 * holdSnapshot activity — the worst case, since the exported snapshot dies with its
 * connection — and start a replacement at once.
 *
 * "Half done" is read on the target: the big table's heap there (pg_relation_size counts the
 * pages of COPYs still in flight, uncommitted) against the source's. The migration's progress
 * query would say the same, but copies send it their bytes only every 15 s.
 */
import type { Client } from '@temporalio/client';
import type { PgCluster } from '../test/support/postgres';
import { BIG_TABLE } from './resume-dataset';
import type { WorkerPool } from './resume-workers';

export interface KillPlan {
  target: PgCluster;
  db: string;
  /** The big table's heap on the source, in bytes. */
  sourceHeapBytes: number;
  /** Kill when the target's heap reaches this fraction of it. */
  fraction: number;
}

export interface KillRecord {
  /** Seconds after `pgferry start`. */
  atSeconds: number;
  /** The target's heap ÷ the source's when it was killed. */
  heapFraction: number;
  victim: string;
  /** Seconds from the kill to a replacement worker ready. */
  replacedInSeconds: number;
  /** Seconds from the kill to holdSnapshot's next attempt starting (a new snapshot), if seen. */
  newHolderAfterSeconds?: number;
}

const POLL_MS = 100;

/** Resolves once the kill is done; fails when the copy ended first or `stopped()` turns true. */
export async function killHolderHalfway(client: Client, workflowId: string, pool: WorkerPool, plan: KillPlan, startedAt: number, stopped: () => boolean): Promise<KillRecord> {
  for (;;) {
    if (stopped()) throw new Error('the migration ended before the kill');
    const heap = await targetHeapBytes(plan.target, plan.db);
    const heapFraction = heap / plan.sourceHeapBytes;
    if (heapFraction >= 1) throw new Error(`missed the kill: the target's ${BIG_TABLE.name} heap is already the source's size`);
    if (heapFraction >= plan.fraction) {
      const victim = await snapshotHolder(client, workflowId);
      const pid = Number(victim.split('@')[0]);
      if (!pool.has(pid)) throw new Error(`the snapshot holder ${victim} is not one of this run's workers`);
      const killedAt = Date.now();
      const replacedInSeconds = await pool.killAndReplace(pid);
      const newHolderAfterSeconds = await nextHolderStart(client, workflowId, killedAt, stopped);
      return { atSeconds: (killedAt - startedAt) / 1000, heapFraction, victim, replacedInSeconds, ...(newHolderAfterSeconds === undefined ? {} : { newHolderAfterSeconds }) };
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** 0 until pre-data has created the table. */
async function targetHeapBytes(target: PgCluster, db: string): Promise<number> {
  const rows = await target
    .query<{ bytes: string | null }>(`SELECT pg_relation_size(to_regclass($1)) AS bytes`, db, [`${BIG_TABLE.schema}.${BIG_TABLE.name}`])
    .catch(() => [{ bytes: null }]);
  return Number(rows[0]?.bytes ?? 0);
}

/**
 * When holdSnapshot started again after the kill: the dead worker is noticed by the activity's
 * heartbeat timeout, then the retry takes a new snapshot. Undefined if the run ends first.
 */
async function nextHolderStart(client: Client, workflowId: string, killedAt: number, stopped: () => boolean): Promise<number | undefined> {
  while (!stopped()) {
    const d = await client.workflow.getHandle(workflowId).describe();
    const started = d.raw.pendingActivities?.find((a) => a.activityType?.name === 'holdSnapshot')?.lastStartedTime;
    const at = started ? Number(started.seconds) * 1000 + Math.floor((started.nanos ?? 0) / 1e6) : 0;
    if (at > killedAt) return (at - killedAt) / 1000;
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}

/** `<pid>@<host>` of the worker running the migration's holdSnapshot activity. */
async function snapshotHolder(client: Client, workflowId: string): Promise<string> {
  const d = await client.workflow.getHandle(workflowId).describe();
  const holder = (d.raw.pendingActivities ?? []).find((a) => a.activityType?.name === 'holdSnapshot');
  if (!holder?.lastWorkerIdentity) throw new Error(`no worker holds the snapshot of ${workflowId} at the kill (pending: ${(d.raw.pendingActivities ?? []).map((a) => a.activityType?.name).join(', ') || 'none'})`);
  return holder.lastWorkerIdentity;
}
