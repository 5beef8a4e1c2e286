/**
 * The kill: once the big table's copy is about half done, SIGKILL one worker and start a
 * replacement at once. The victim is the worker running the holdSnapshot activity (`holder`: the
 * worst case, since the exported snapshot dies with its connection), or one that does not hold
 * it while it copies a chunk of the big table (`other`: only its chunks in flight are lost).
 *
 * "Half done" is read on the target: the big table's heap there (pg_relation_size counts the
 * pages of COPYs still in flight, uncommitted) against the source's. The migration's progress
 * query would say the same, but copies send it their bytes only every 15 s.
 */
import type { Client } from '@temporalio/client';
import type { Client as PgClient } from 'pg';
import type { PgCluster } from '../launch/postgres';
import { BIG_TABLE } from './resume-dataset';
import type { WorkerPool } from './resume-workers';

export type Victim = 'holder' | 'other';

export interface KillPlan {
  victim: Victim;
  target: PgCluster;
  db: string;
  /** The big table's heap on the source, in bytes. */
  sourceHeapBytes: number;
  /** Kill when the target's heap reaches this fraction of it. */
  fraction: number;
}

export interface KillRecord {
  victim: Victim;
  /** Seconds after `pgferry start`. */
  atSeconds: number;
  /** The target's heap ÷ the source's when it was killed. */
  heapFraction: number;
  /** `<pid>@<host>` of the worker killed. */
  worker: string;
  /** Chunks of the big table it was copying. */
  chunksInFlight: number;
  /** Seconds from the kill to a replacement worker ready. */
  replacedInSeconds: number;
  /** holder: seconds from the kill to holdSnapshot's next attempt starting (a new snapshot), if seen. */
  newHolderAfterSeconds?: number;
}

interface PendingActivity {
  activityType?: { name?: string | null } | null;
  lastWorkerIdentity?: string | null;
  lastStartedTime?: { seconds?: unknown; nanos?: number | null } | null;
}

const POLL_MS = 100;

/** Resolves once the kill is done; fails when the copy ended first or `stopped()` turns true. */
export async function killHalfway(client: Client, workflowId: string, pool: WorkerPool, plan: KillPlan, startedAt: number, stopped: () => boolean): Promise<KillRecord> {
  // One session for the polls: a connection each time would fork a target backend 10 times a
  // second, load that only the runs with a kill would carry.
  const target = await plan.target.connect(plan.db);
  try {
    return await killWhenHalfway(client, workflowId, pool, plan, target, startedAt, stopped);
  } finally {
    await target.end().catch(() => undefined);
  }
}

async function killWhenHalfway(client: Client, workflowId: string, pool: WorkerPool, plan: KillPlan, target: PgClient, startedAt: number, stopped: () => boolean): Promise<KillRecord> {
  for (;;) {
    if (stopped()) throw new Error('the migration ended before the kill');
    const heapFraction = (await targetHeapBytes(target)) / plan.sourceHeapBytes;
    if (heapFraction >= 1) throw new Error(`missed the kill: the target's ${BIG_TABLE.name} heap is already the source's size`);
    if (heapFraction >= plan.fraction) {
      const { worker, chunksInFlight } = await chooseVictim(client, workflowId, plan.victim);
      const pid = Number(worker.split('@')[0]);
      if (!pool.has(pid)) throw new Error(`the worker to kill, ${worker}, is not one of this run's`);
      const killedAt = Date.now();
      const replacedInSeconds = await pool.killAndReplace(pid);
      const newHolderAfterSeconds = plan.victim === 'holder' ? await nextHolderStart(client, workflowId, killedAt, stopped) : undefined;
      return {
        victim: plan.victim,
        atSeconds: (killedAt - startedAt) / 1000,
        heapFraction,
        worker,
        chunksInFlight,
        replacedInSeconds,
        ...(newHolderAfterSeconds === undefined ? {} : { newHolderAfterSeconds }),
      };
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** 0 until pre-data has created the table. */
async function targetHeapBytes(target: PgClient): Promise<number> {
  const { rows } = await target.query<{ bytes: string | null }>(`SELECT pg_relation_size(to_regclass($1)) AS bytes`, [`${BIG_TABLE.schema}.${BIG_TABLE.name}`]);
  return Number(rows[0]?.bytes ?? 0);
}

/**
 * The holder's worker, or a worker copying chunks of the big table that is not the holder's.
 * Chunks in flight: the copy workflow's pending copyUnit activities on that worker (the first
 * data phase: `<id>/copy-1`).
 */
async function chooseVictim(client: Client, workflowId: string, victim: Victim): Promise<{ worker: string; chunksInFlight: number }> {
  const holder = (await pending(client, workflowId)).find((a) => a.activityType?.name === 'holdSnapshot')?.lastWorkerIdentity;
  if (!holder) throw new Error(`no worker holds the snapshot of ${workflowId} at the kill`);
  const copies = (await pending(client, `${workflowId}/copy-1`)).filter((a) => a.activityType?.name === 'copyUnit' && a.lastWorkerIdentity);
  const on = (worker: string) => copies.filter((a) => a.lastWorkerIdentity === worker).length;
  if (victim === 'holder') return { worker: holder, chunksInFlight: on(holder) };
  const other = copies.find((a) => a.lastWorkerIdentity !== holder)?.lastWorkerIdentity;
  if (!other) throw new Error(`no chunk runs on a worker other than the snapshot holder's (${holder}) at the kill`);
  return { worker: other, chunksInFlight: on(other) };
}

async function pending(client: Client, workflowId: string): Promise<PendingActivity[]> {
  const d = await client.workflow.getHandle(workflowId).describe();
  return (d.raw.pendingActivities ?? []) as PendingActivity[];
}

/**
 * When holdSnapshot started again after the kill: the dead worker is noticed by the activity's
 * heartbeat timeout, then the retry takes a new snapshot. Undefined if the run ends first.
 */
async function nextHolderStart(client: Client, workflowId: string, killedAt: number, stopped: () => boolean): Promise<number | undefined> {
  while (!stopped()) {
    const started = (await pending(client, workflowId)).find((a) => a.activityType?.name === 'holdSnapshot')?.lastStartedTime;
    const at = started ? Number(started.seconds) * 1000 + Math.floor((started.nanos ?? 0) / 1e6) : 0;
    if (at > killedAt) return (at - killedAt) / 1000;
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}
