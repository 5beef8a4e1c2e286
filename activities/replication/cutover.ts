/**
 * Source-side steps of the cutover.
 *
 * `lockSource` makes the source database read-only for new transactions and waits for the
 * running writers to finish, so the cutover point is final. `emitCutoverMarker` writes a
 * logical decoding message into the source's WAL: every transaction committed before it is
 * streamed before it, so when the stream has applied the marker, the target has everything.
 */
import type { Client } from 'pg';
import { resolveConnection } from '../credentials';
import { closeQuietly, openClient, quoteIdent } from '../db';
import type { ActivityDeps, Endpoints } from '../deps';
import { guarded } from '../errors';

export const CUTOVER_MESSAGE_PREFIX = 'pgferry-cutover';

/** How long to wait for transactions that were writing when the lock was taken. */
const WRITER_WAIT_MS = 60_000;

export interface LockSourceResult {
  /** Sessions that were idle and were ended so that they reconnect read-only. */
  endedSessions: number;
  /** Transactions that were writing and were waited for. */
  waitedForWriters: number;
}

export function makeLockSource(deps: ActivityDeps) {
  return async function lockSource(input: Pick<Endpoints, 'source' | 'retry'>): Promise<LockSourceResult> {
    const source = resolveConnection(input.source, deps.env);
    let client: Client | undefined;
    try {
      return await guarded({ doing: `make source ${source.label} read-only`, secrets: source.secrets, retry: input.retry }, async () => {
        client = await openClient(source, 'cutover');
        const db = quoteIdent(input.source.database);
        await client.query(`ALTER DATABASE ${db} SET default_transaction_read_only = on`);
        // Sessions keep the settings they started with: end the idle ones (their pools reconnect
        // read-only) and wait for the ones inside a transaction that has written.
        const ended = await client.query(
          `SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_catalog.pg_backend_pid()
              AND backend_type = 'client backend' AND state IN ('idle')`,
        );
        let waited = 0;
        const deadline = Date.now() + WRITER_WAIT_MS;
        for (;;) {
          const { rows } = await client.query<{ n: string }>(
            `SELECT count(*) AS n FROM pg_catalog.pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_catalog.pg_backend_pid()
                AND backend_type = 'client backend' AND backend_xid IS NOT NULL`,
          );
          const writers = Number(rows[0].n);
          waited = Math.max(waited, writers);
          if (writers === 0) break;
          if (Date.now() > deadline) {
            // Still writing after a minute: end them, so that the cutover point is final.
            await client.query(
              `SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_catalog.pg_backend_pid()
                  AND backend_type = 'client backend' AND backend_xid IS NOT NULL`,
            );
          }
          await new Promise((r) => setTimeout(r, 100));
        }
        return { endedSessions: ended.rowCount ?? 0, waitedForWriters: waited };
      });
    } finally {
      await closeQuietly(client);
    }
  };
}

export function makeEmitCutoverMarker(deps: ActivityDeps) {
  return async function emitCutoverMarker(input: Pick<Endpoints, 'source' | 'retry'> & { migrationId: string }): Promise<{ lsn: string }> {
    const source = resolveConnection(input.source, deps.env);
    let client: Client | undefined;
    try {
      return await guarded({ doing: `write the cutover marker on source ${source.label}`, secrets: source.secrets, retry: input.retry }, async () => {
        client = await openClient(source, 'cutover');
        // Allowed even on a database made read-only by lockSource: this session opts out.
        await client.query('SET default_transaction_read_only = off');
        const { rows } = await client.query<{ lsn: string }>('SELECT pg_catalog.pg_logical_emit_message(false, $1, $2)::text AS lsn', [CUTOVER_MESSAGE_PREFIX, input.migrationId]);
        return { lsn: rows[0].lsn };
      });
    } finally {
      await closeQuietly(client);
    }
  };
}
