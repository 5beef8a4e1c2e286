/**
 * Exports one snapshot of the source and holds it open while tables are copied, so that every
 * table is read as of the same instant even while the source takes writes.
 *
 * The snapshot lives exactly as long as this activity's transaction. The activity tells the
 * workflow the snapshot's name by signal, then heartbeats until the workflow cancels it. If it
 * dies (worker crash, dropped connection), Temporal retries it: the new attempt exports a new
 * snapshot, and the workflow re-copies everything read under the old one.
 */
import { Context } from '@temporalio/activity';
import type { Client } from 'pg';
import { SNAPSHOT_READY_SIGNAL, type SnapshotReady } from '../common/messages';
import { resolveConnection } from './credentials';
import { closeQuietly, openClient } from './db';
import type { ActivityDeps, Endpoints } from './deps';
import { guarded } from './errors';
import { owningWorkflow } from './owning-workflow';

/** Heartbeat often: a cancel (which releases the snapshot) arrives only with a heartbeat reply. */
const HEARTBEAT_MS = 1_000;
/** Check the connection now and then, so a dead one is noticed and the holder retried. */
const KEEPALIVE_EVERY = 5;

export function makeHoldSnapshot(deps: ActivityDeps) {
  return async function holdSnapshot(input: Pick<Endpoints, 'source' | 'retry'>): Promise<void> {
    const source = resolveConnection(input.source, deps.env);
    const ctx = Context.current();
    let client: Client | undefined;
    // Closing the connection on cancel ends the transaction, which releases the snapshot.
    const release = () => void closeQuietly(client);
    ctx.cancellationSignal.addEventListener('abort', release);
    try {
      await guarded({ doing: `hold snapshot on source ${source.label}`, secrets: source.secrets, retry: input.retry }, async () => {
        client = await openClient(source, 'snapshot');
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const { rows } = await client.query<{ name: string }>('SELECT pg_catalog.pg_export_snapshot() AS name');
        const ready: SnapshotReady = { name: rows[0].name, attempt: ctx.info.attempt };
        const { workflowId, runId } = owningWorkflow();
        await ctx.client.workflow.getHandle(workflowId, runId).signal(SNAPSHOT_READY_SIGNAL, ready);
        for (let beat = 1; ; beat += 1) {
          ctx.heartbeat({ snapshot: ready.name });
          await ctx.sleep(HEARTBEAT_MS); // throws when cancelled
          if (beat % KEEPALIVE_EVERY === 0) await client.query('SELECT 1');
        }
      });
    } finally {
      ctx.cancellationSignal.removeEventListener('abort', release);
      await closeQuietly(client);
    }
  };
}
