/**
 * The heartbeat the lag is measured with (lag-clock.ts): a non-transactional logical decoding
 * message in the source's WAL, written every second while the stream runs. It stores nothing
 * in any table, so nothing is left on the source; the WAL it takes is recycled like any other.
 */
import type { Client } from 'pg';
import { parseLsn } from '../../common/lsn';
import { HEARTBEAT_PREFIX } from './lag-clock';

export interface HeartbeatWritten {
  /** The message's position: everything committed before it was written comes before it in the stream. */
  lsn: bigint;
  /** The source's clock when it was written (ms since 1970). */
  sourceNowMs: number;
  /** The worker's clock then (the middle of the round trip). */
  at: number;
}

/**
 * Writes one heartbeat; undefined when the source refuses (a role that may not, a server in
 * recovery): the lag then dates only what was received, and the source's end of WAL is read
 * instead, as `readSourceEnd` does.
 */
export async function writeHeartbeat(source: Client): Promise<HeartbeatWritten | undefined> {
  const sent = Date.now();
  try {
    const { rows } = await source.query<{ lsn: string; now_ms: number }>(
      `SELECT pg_catalog.pg_logical_emit_message(false, $1, clock_timestamp()::text)::text AS lsn,
              (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now_ms`,
      [HEARTBEAT_PREFIX],
    );
    return { lsn: parseLsn(rows[0].lsn), sourceNowMs: rows[0].now_ms, at: Math.round((sent + Date.now()) / 2) };
  } catch (err) {
    if (isConnectionLoss(err)) throw err;
    return undefined;
  }
}

/** The source's current end of WAL. */
export async function readSourceEnd(source: Client): Promise<bigint> {
  const { rows } = await source.query<{ lsn: string }>('SELECT pg_catalog.pg_current_wal_lsn()::text AS lsn');
  return parseLsn(rows[0].lsn);
}

/** A refusal has an SQLSTATE; a broken connection does not (and must fail the attempt as before). */
function isConnectionLoss(err: unknown): boolean {
  return typeof (err as { code?: unknown }).code !== 'string' || String((err as { code: string }).code).startsWith('08');
}
