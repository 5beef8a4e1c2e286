/**
 * Exports one snapshot of the source and holds it open while tables are copied, so that every
 * table is read as of the same instant even while the source takes writes.
 *
 * For a full migration the snapshot comes from `pg_export_snapshot()`. For an incremental one
 * it comes from creating the logical replication slot (`CREATE_REPLICATION_SLOT ... (SNAPSHOT
 * 'export')`): the copy then sees exactly the changes before the slot's consistent point and
 * the slot streams exactly those after it — no gap, no overlap.
 *
 * The snapshot lives exactly as long as this activity's transaction (or, for a slot, until the
 * replication connection runs another command or closes). The activity tells the workflow the
 * snapshot's name by signal, then heartbeats until the workflow cancels it. If it dies (worker
 * crash, dropped connection), Temporal retries it: the new attempt exports a new snapshot (with
 * a new slot, named after the attempt), and the workflow decides what read under the old one
 * it keeps (see workflows/copied-units.ts); the old slot stays until the stream starts.
 */
import { Context } from '@temporalio/activity';
import type { Client } from 'pg';
import { SNAPSHOT_READY_SIGNAL, type SnapshotReady } from '../common/messages';
import { slotName, type ReplicationNames } from '../common/replication-names';
import { resolveConnection } from './credentials';
import { closeQuietly, openClient, openReplicationClient } from './db';
import type { ActivityDeps, Endpoints } from './deps';
import { guarded } from './errors';
import { owningWorkflow } from './owning-workflow';
import { dropSlotIfExists } from './replication/slots';
import { holdDdlGate } from './replication/ddl-gate';

/**
 * Heartbeat often: a cancel (which releases the snapshot) arrives only with a heartbeat reply,
 * and every migration's end waits for it (with a beat a second, 0-1 s after the last copy; the
 * worker sends up to 4 a second: worker/run-worker.ts).
 */
const HEARTBEAT_MS = 250;
/** Check the connection about every 5 s, so a dead one is noticed and the holder retried. */
const KEEPALIVE_EVERY = 20;

export interface HoldSnapshotInput extends Pick<Endpoints, 'source' | 'retry'> {
  /** Incremental migrations: export the snapshot by creating a replication slot. */
  replication?: ReplicationNames;
  /** DDL replication: hold the gate that makes source DDL wait while the copy runs (ddl-gate.ts). */
  ddlGate?: boolean;
}

export function makeHoldSnapshot(deps: ActivityDeps) {
  return async function holdSnapshot(input: HoldSnapshotInput): Promise<void> {
    const source = resolveConnection(input.source, deps.env);
    const ctx = Context.current();
    let client: Client | undefined;
    let gate: Client | undefined;
    // Closing the connection on cancel ends the transaction, which releases the snapshot.
    const release = () => {
      void closeQuietly(client);
      void closeQuietly(gate);
    };
    ctx.cancellationSignal.addEventListener('abort', release);
    // Creating a slot waits for the source's running transactions: say meanwhile that we live.
    const settingUp = setInterval(() => ctx.heartbeat(), HEARTBEAT_MS);
    try {
      await guarded({ doing: `hold snapshot on source ${source.label}`, secrets: source.secrets, retry: input.retry }, async () => {
        let ready: SnapshotReady;
        if (input.replication) {
          const slot = slotName(input.replication, ctx.info.attempt);
          await dropSlotIfExists(source, slot); // only a crashed run of this very attempt made it
          client = await openReplicationClient(source, 'snapshot');
          const { rows } = await client.query<{ snapshot_name: string; consistent_point: string }>(
            `CREATE_REPLICATION_SLOT ${slot} LOGICAL pgoutput (SNAPSHOT 'export')`,
          );
          ready = { name: rows[0].snapshot_name, attempt: ctx.info.attempt, slot, consistentLsn: rows[0].consistent_point };
          // DDL during the copy waits for it, and comes through the stream afterwards.
          if (input.ddlGate) gate = await holdDdlGate(source, input.replication, ready.name);
        } else {
          client = await openClient(source, 'snapshot');
          await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
          const { rows } = await client.query<{ name: string; xids: string }>('SELECT pg_catalog.pg_export_snapshot() AS name, pg_catalog.txid_current_snapshot()::text AS xids');
          ready = { name: rows[0].name, attempt: ctx.info.attempt, xids: rows[0].xids };
        }
        const { workflowId, runId } = owningWorkflow();
        await ctx.client.workflow.getHandle(workflowId, runId).signal(SNAPSHOT_READY_SIGNAL, ready);
        clearInterval(settingUp);
        const lost = connectionLost(client);
        for (let beat = 1; ; beat += 1) {
          ctx.heartbeat({ snapshot: ready.name, slot: ready.slot });
          await Promise.race([ctx.sleep(HEARTBEAT_MS), lost]); // sleep throws when cancelled
          // Any command on the replication connection would end the slot's snapshot: there,
          // a dead connection shows up through the client's error/end events instead.
          if (!input.replication && beat % KEEPALIVE_EVERY === 0) await client.query('SELECT 1');
        }
      });
    } finally {
      clearInterval(settingUp);
      ctx.cancellationSignal.removeEventListener('abort', release);
      await closeQuietly(gate);
      await closeQuietly(client);
    }
  };
}

/** A promise that rejects when the connection breaks or ends. */
function connectionLost(client: Client): Promise<never> {
  const lost = new Promise<never>((_, reject) => {
    client.on('error', (err) => reject(err));
    client.on('end', () => {
      const err = new Error('Connection terminated: the source closed the snapshot connection') as Error & { code: string };
      err.code = '57P01';
      reject(err);
    });
  });
  lost.catch(() => undefined); // observed through Promise.race; never unhandled
  return lost;
}
