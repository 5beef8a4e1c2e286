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
import { closeQuietly, openSourceAdminClient, quoteIdent } from '../db';
import type { ActivityDeps, Endpoints } from '../deps';
import { guarded } from '../errors';

export const CUTOVER_MESSAGE_PREFIX = 'pgferry-cutover';

/** How long to wait for transactions that were writing when the lock was taken. */
const WRITER_WAIT_MS = 60_000;

export interface LockSourceResult {
  /** When the database was made read-only (ISO time on the source's clock): unlockSource ends sessions started since. */
  lockedAt?: string;
  /** Sessions older than the lock, ended between transactions so that they reconnect read-only. */
  endedSessions: number;
  /** Most sessions found busy in a transaction at once, whose transactions were waited for. */
  waitedForWriters: number;
}

export function makeLockSource(deps: ActivityDeps) {
  return async function lockSource(input: Pick<Endpoints, 'source' | 'retry'>): Promise<LockSourceResult> {
    const source = resolveConnection(input.source, deps.env);
    let client: Client | undefined;
    try {
      return await guarded({ doing: `make source ${source.label} read-only`, secrets: source.secrets, retry: input.retry }, async () => {
        client = await openSourceAdminClient(source, 'cutover');
        const db = quoteIdent(input.source.database);
        const { rows: at } = await client.query<{ now: Date }>('SELECT clock_timestamp() AS now');
        await client.query(`ALTER DATABASE ${db} SET default_transaction_read_only = on`);
        // Sessions started from now on are read-only. The older ones keep the setting they began
        // with: each may finish the transaction it is in, and is ended once it is between
        // transactions (a pool reconnects it, read-only). After a minute, the rest are ended too.
        const older = `datname = current_database() AND pid <> pg_catalog.pg_backend_pid() AND backend_type = 'client backend'
                       AND application_name NOT LIKE 'pgferry%' AND backend_start < $1`;
        let ended = 0;
        let waited = 0;
        const deadline = Date.now() + WRITER_WAIT_MS;
        for (;;) {
          const idle = await client.query(`SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE ${older} AND state = 'idle'`, [at[0].now]);
          ended += idle.rowCount ?? 0;
          const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM pg_catalog.pg_stat_activity WHERE ${older}`, [at[0].now]);
          const busy = Number(rows[0].n);
          waited = Math.max(waited, busy);
          if (busy === 0) break;
          if (Date.now() > deadline) {
            const rest = await client.query(`SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE ${older}`, [at[0].now]);
            ended += rest.rowCount ?? 0;
          }
          await new Promise((r) => setTimeout(r, 50));
        }
        return { lockedAt: at[0].now.toISOString(), endedSessions: ended, waitedForWriters: waited };
      });
    } finally {
      await closeQuietly(client);
    }
  };
}

/**
 * Undoes lockSource when a cutover is abandoned (`cutover --timeout`): the database is writable
 * for new sessions again, and the sessions that started while it was read-only (they keep the
 * setting they began with) are ended once idle, so that their pools reconnect writable.
 */
export function makeUnlockSource(deps: ActivityDeps) {
  return async function unlockSource(input: Pick<Endpoints, 'source' | 'retry'> & { lockedAt: string }): Promise<{ endedSessions: number }> {
    const source = resolveConnection(input.source, deps.env);
    let client: Client | undefined;
    try {
      return await guarded({ doing: `make source ${source.label} writable again`, secrets: source.secrets, retry: input.retry }, async () => {
        client = await openSourceAdminClient(source, 'cutover');
        await client.query(`ALTER DATABASE ${quoteIdent(input.source.database)} RESET default_transaction_read_only`);
        const { rowCount } = await client.query(
          `SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_catalog.pg_backend_pid() AND backend_type = 'client backend'
              AND application_name NOT LIKE 'pgferry%' AND backend_start >= $1 AND state = 'idle'`,
          [input.lockedAt],
        );
        return { endedSessions: rowCount ?? 0 };
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
        client = await openSourceAdminClient(source, 'cutover');
        const { rows } = await client.query<{ lsn: string }>('SELECT pg_catalog.pg_logical_emit_message(false, $1, $2)::text AS lsn', [CUTOVER_MESSAGE_PREFIX, input.migrationId]);
        return { lsn: rows[0].lsn };
      });
    } finally {
      await closeQuietly(client);
    }
  };
}
