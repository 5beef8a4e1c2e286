/**
 * Large objects copied, recorded in the target's bookkeeping (`_pgferry.large_objects`) in the
 * same transaction as their bytes. A big object commits every few dozen MB with how far it got,
 * so a retry continues from there instead of from its first byte; a record under another
 * snapshot (the snapshot was lost and the data phase restarted) means: copy it again whole.
 * The record also keeps the source's size and checksum, which validation compares the target with.
 */
import type { Client } from 'pg';
import { MARKER_SCHEMA } from '../schema/step-marker';

export const RECORDS_TABLE = `${MARKER_SCHEMA}.large_objects`;

export interface LargeObjectRecord {
  oid: number;
  snapshot: string;
  /** The object's size on the source, under the snapshot. */
  size: number;
  /** Bytes committed so far. */
  copied: number;
  /** The checksum chain of the committed bytes (validation: checksum; '' otherwise). */
  chain: string;
  done: boolean;
}

/** Parallel batches may all be first: the advisory lock lets one create the table, the others then see it. */
export async function ensureRecordsTable(target: Client): Promise<void> {
  await target.query('BEGIN');
  try {
    await target.query("SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('pgferry large object records'))");
    await target.query(`CREATE SCHEMA IF NOT EXISTS ${MARKER_SCHEMA}`);
    await target.query(
      `CREATE TABLE IF NOT EXISTS ${RECORDS_TABLE} (workflow_id text, oid int8, snapshot text, size int8, copied int8, chain text, done boolean, PRIMARY KEY (workflow_id, oid))`,
    );
    await target.query('COMMIT');
  } catch (err) {
    await target.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

export async function readRecords(target: Client, workflowId: string, firstOid: number, lastOid: number): Promise<Map<number, LargeObjectRecord>> {
  const { rows } = await target.query<{ oid: string; snapshot: string; size: string; copied: string; chain: string; done: boolean }>(
    `SELECT oid, snapshot, size, copied, chain, done FROM ${RECORDS_TABLE} WHERE workflow_id = $1 AND oid BETWEEN $2 AND $3`,
    [workflowId, firstOid, lastOid],
  );
  return new Map(rows.map((r) => [Number(r.oid), { oid: Number(r.oid), snapshot: r.snapshot, size: Number(r.size), copied: Number(r.copied), chain: r.chain, done: r.done }]));
}

export async function writeRecord(target: Client, workflowId: string, r: LargeObjectRecord): Promise<void> {
  await target.query(
    `INSERT INTO ${RECORDS_TABLE} (workflow_id, oid, snapshot, size, copied, chain, done) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (workflow_id, oid) DO UPDATE SET snapshot = EXCLUDED.snapshot, size = EXCLUDED.size, copied = EXCLUDED.copied, chain = EXCLUDED.chain, done = EXCLUDED.done`,
    [workflowId, r.oid, r.snapshot, r.size, r.copied, r.chain, r.done],
  );
}

/** Many finished objects at once (small objects copied in a group). */
export async function writeDoneRecords(target: Client, workflowId: string, snapshot: string, objects: Array<{ oid: number; size: number; chain: string }>): Promise<void> {
  await target.query(
    `INSERT INTO ${RECORDS_TABLE} (workflow_id, oid, snapshot, size, copied, chain, done)
     SELECT $1, o, $2, s, s, c, true FROM unnest($3::int8[], $4::int8[], $5::text[]) AS x(o, s, c)
     ON CONFLICT (workflow_id, oid) DO UPDATE SET snapshot = EXCLUDED.snapshot, size = EXCLUDED.size, copied = EXCLUDED.copied, chain = EXCLUDED.chain, done = EXCLUDED.done`,
    [workflowId, snapshot, objects.map((o) => o.oid), objects.map((o) => o.size), objects.map((o) => o.chain)],
  );
}

/** Objects recorded done under `snapshot`, with the source's size and chain, in oid order, page by page. */
export async function readDoneRecords(target: Client, workflowId: string, snapshot: string, afterOid: number, limit: number): Promise<LargeObjectRecord[]> {
  const { rows } = await target.query<{ oid: string; size: string; chain: string }>(
    `SELECT oid, size, chain FROM ${RECORDS_TABLE} WHERE workflow_id = $1 AND snapshot = $2 AND done AND oid > $3 ORDER BY oid LIMIT $4`,
    [workflowId, snapshot, afterOid, limit],
  );
  return rows.map((r) => ({ oid: Number(r.oid), snapshot, size: Number(r.size), copied: Number(r.size), chain: r.chain, done: true }));
}

export async function recordsTableExists(target: Client): Promise<boolean> {
  const { rows } = await target.query<{ ok: boolean }>(`SELECT to_regclass('${RECORDS_TABLE}') IS NOT NULL AS ok`);
  return rows[0].ok;
}
