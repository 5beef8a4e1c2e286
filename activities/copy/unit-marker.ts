/**
 * Copy units done, recorded in the target's bookkeeping in the same transaction as the rows.
 * A retry after a lost acknowledgement finds the record and returns the results without
 * copying again; a unit recorded under an older snapshot (the snapshot was lost and the data
 * phase restarted) must truncate first, because its tables hold rows from that snapshot.
 */
import type { Client } from 'pg';
import type { TableCopyResult } from '../../common/plan';
import { MARKER_SCHEMA } from '../schema/step-marker';

/** Whether the target has the units bookkeeping (pre-data makes it; copy-tables for existing split tables). */
export async function hasUnitRecords(target: Client): Promise<boolean> {
  const { rows } = await target.query<{ ok: boolean }>(`SELECT pg_catalog.to_regclass('${MARKER_SCHEMA}.units') IS NOT NULL AS ok`);
  return rows[0].ok;
}

/** Holds the unit until the end of the target transaction: two attempts of one unit never write side by side. */
export async function lockUnit(target: Client, workflowId: string, unitId: number): Promise<void> {
  await target.query('SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext($1), $2)', [workflowId, unitId]);
}

export type UnitRecord = { snapshot: string; results: TableCopyResult[] } | undefined;

export async function findUnitRecord(target: Client, workflowId: string, unitId: number): Promise<UnitRecord> {
  const { rows } = await target.query<{ snapshot: string; results: TableCopyResult[] }>(
    `SELECT snapshot, results FROM ${MARKER_SCHEMA}.units WHERE workflow_id = $1 AND unit_id = $2`,
    [workflowId, unitId],
  );
  return rows[0];
}

export async function recordUnit(target: Client, workflowId: string, unitId: number, snapshot: string, results: TableCopyResult[]): Promise<void> {
  await target.query(
    `INSERT INTO ${MARKER_SCHEMA}.units (workflow_id, unit_id, snapshot, results) VALUES ($1, $2, $3, $4)
     ON CONFLICT (workflow_id, unit_id) DO UPDATE SET snapshot = EXCLUDED.snapshot, results = EXCLUDED.results`,
    [workflowId, unitId, snapshot, JSON.stringify(results)],
  );
}
