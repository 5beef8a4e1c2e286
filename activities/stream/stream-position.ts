/**
 * The stream's position in the target: one row per migration in pgferry's bookkeeping schema,
 * updated in the same target transaction as the changes it covers. That makes it the truth
 * about what is applied (a resumed stream starts there and skips what is older), and the
 * fence that makes cutover final: once `closed` is set, no apply transaction can commit,
 * whatever late worker or retry runs it, because each one locks this row and checks it first.
 */
import type { Client } from 'pg';
import { resolveConnection } from '../credentials';
import { closeQuietly, openClient, WRITES_ON_READ_ONLY } from '../db';
import type { ActivityDeps, Endpoints } from '../deps';
import { guarded } from '../errors';
import { BOOKKEEPING_DDL, MARKER_SCHEMA } from '../schema/step-marker';

const STREAM_DDL = `${BOOKKEEPING_DDL}
CREATE TABLE IF NOT EXISTS ${MARKER_SCHEMA}.stream (
  workflow_id text PRIMARY KEY,
  slot text NOT NULL,
  applied_lsn pg_lsn NOT NULL,
  applied_at timestamptz,
  closed boolean NOT NULL DEFAULT false
);`;

export interface StreamPosition {
  slot: string;
  appliedLsn: string;
  closed: boolean;
}

type PositionRow = { slot: string; applied_lsn: string; closed: boolean };
const POSITION_COLUMNS = 'slot, applied_lsn::text, closed';
const toPosition = (r: PositionRow | undefined): StreamPosition | undefined => (r ? { slot: r.slot, appliedLsn: r.applied_lsn, closed: r.closed } : undefined);

/**
 * Locks the migration's position row for the rest of the caller's transaction. Undefined when
 * there is none (the migration is finished and its bookkeeping dropped).
 */
export async function lockPosition(client: Pick<Client, 'query'>, migrationId: string): Promise<StreamPosition | undefined> {
  const { rows } = await client.query<PositionRow>(`SELECT ${POSITION_COLUMNS} FROM ${MARKER_SCHEMA}.stream WHERE workflow_id = $1 FOR UPDATE`, [migrationId]);
  return toPosition(rows[0]);
}

export async function readPosition(client: Client, migrationId: string): Promise<StreamPosition | undefined> {
  const { rows } = await client.query<{ ok: boolean }>(`SELECT to_regclass('${MARKER_SCHEMA}.stream') IS NOT NULL AS ok`);
  if (!rows[0].ok) return undefined;
  const found = await client.query<PositionRow>(`SELECT ${POSITION_COLUMNS} FROM ${MARKER_SCHEMA}.stream WHERE workflow_id = $1`, [migrationId]);
  return toPosition(found.rows[0]);
}

export async function savePosition(client: Pick<Client, 'query'>, migrationId: string, lsn: string): Promise<void> {
  await client.query(`UPDATE ${MARKER_SCHEMA}.stream SET applied_lsn = greatest(applied_lsn, $2::pg_lsn), applied_at = now() WHERE workflow_id = $1`, [migrationId, lsn]);
}

export interface OpenStreamInput extends Pick<Endpoints, 'target' | 'retry'> {
  migrationId: string;
  slot: string;
  /** The slot's consistent point: everything before it is in the copy. */
  startLsn: string;
}

/** The position row, made once: a retry (or a second call) finds the first one. */
export async function recordStreamStart(client: Client, migrationId: string, slot: string, startLsn: string): Promise<StreamPosition> {
  await client.query(STREAM_DDL);
  await client.query(`INSERT INTO ${MARKER_SCHEMA}.stream (workflow_id, slot, applied_lsn) VALUES ($1, $2, $3::pg_lsn) ON CONFLICT (workflow_id) DO NOTHING`, [migrationId, slot, startLsn]);
  return (await readPosition(client, migrationId))!;
}

/** Creates the position row before the stream starts (idempotent). */
export function makeOpenStream(deps: ActivityDeps) {
  return async function openStream(input: OpenStreamInput): Promise<StreamPosition> {
    const target = resolveConnection(input.target, deps.env);
    let client: Client | undefined;
    try {
      return await guarded({ doing: `record the stream start on target ${target.label}`, secrets: target.secrets, retry: input.retry }, async () => {
        client = await openClient(target, 'stream', WRITES_ON_READ_ONLY);
        return await recordStreamStart(client, input.migrationId, input.slot, input.startLsn);
      });
    } finally {
      await closeQuietly(client);
    }
  };
}

/**
 * Closes the stream for good: waits for any apply transaction in flight (it holds the row lock)
 * and marks the row closed, so nothing can apply changes to the target any more.
 */
export function makeCloseStream(deps: ActivityDeps) {
  return async function closeStream(input: Pick<Endpoints, 'target' | 'retry'> & { migrationId: string }): Promise<{ appliedLsn?: string }> {
    const target = resolveConnection(input.target, deps.env);
    let client: Client | undefined;
    try {
      return await guarded({ doing: `close the stream on target ${target.label}`, secrets: target.secrets, retry: input.retry }, async () => {
        client = await openClient(target, 'stream', WRITES_ON_READ_ONLY);
        if (!(await readPosition(client, input.migrationId))) return {};
        const { rows } = await client.query<{ applied_lsn: string }>(
          `UPDATE ${MARKER_SCHEMA}.stream SET closed = true WHERE workflow_id = $1 RETURNING applied_lsn::text`,
          [input.migrationId],
        );
        return { appliedLsn: rows[0]?.applied_lsn };
      });
    } finally {
      await closeQuietly(client);
    }
  };
}
