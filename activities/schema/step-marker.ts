/**
 * pgferry's bookkeeping in the target, in a `_pgferry` schema dropped when the migration
 * finishes:
 *   steps    schema steps done, marked in the same transaction as the step itself, so a retry
 *            after a commit whose acknowledgement was lost skips it instead of failing on
 *            "already exists";
 *   units    copy units committed, with their results, for the same reason;
 *   dumps    the schema dump taken under the snapshot, so post-data (maybe on another worker)
 *            restores from the same dump without reading the source catalog again.
 */
import type { Client } from 'pg';
import { quoteLiteral } from '../db';

export const MARKER_SCHEMA = '_pgferry';

export const BOOKKEEPING_DDL = `
CREATE SCHEMA IF NOT EXISTS ${MARKER_SCHEMA};
CREATE TABLE IF NOT EXISTS ${MARKER_SCHEMA}.steps (workflow_id text, step text, done_at timestamptz DEFAULT now(), PRIMARY KEY (workflow_id, step));
CREATE TABLE IF NOT EXISTS ${MARKER_SCHEMA}.units (workflow_id text, unit_id int, snapshot text, results jsonb, PRIMARY KEY (workflow_id, unit_id));
CREATE TABLE IF NOT EXISTS ${MARKER_SCHEMA}.dumps (workflow_id text PRIMARY KEY, dump bytea);
`;

export function markerSql(workflowId: string, step: string): string {
  return `${BOOKKEEPING_DDL}
INSERT INTO ${MARKER_SCHEMA}.steps (workflow_id, step) VALUES (${quoteLiteral(workflowId)}, ${quoteLiteral(step)});
`;
}

async function bookkeepingExists(target: Client, table: string): Promise<boolean> {
  const { rows } = await target.query<{ ok: boolean }>(`SELECT to_regclass('${MARKER_SCHEMA}.${table}') IS NOT NULL AS ok`);
  return rows[0].ok;
}

export async function isStepDone(target: Client, workflowId: string, step: string): Promise<boolean> {
  if (!(await bookkeepingExists(target, 'steps'))) return false;
  const found = await target.query(`SELECT 1 FROM ${MARKER_SCHEMA}.steps WHERE workflow_id = $1 AND step = $2`, [workflowId, step]);
  return (found.rowCount ?? 0) > 0;
}

export async function saveDump(target: Client, workflowId: string, dump: Buffer): Promise<void> {
  await target.query(BOOKKEEPING_DDL);
  await target.query(
    `INSERT INTO ${MARKER_SCHEMA}.dumps (workflow_id, dump) VALUES ($1, $2) ON CONFLICT (workflow_id) DO UPDATE SET dump = EXCLUDED.dump`,
    [workflowId, dump],
  );
}

export async function loadDump(target: Client, workflowId: string): Promise<Buffer | undefined> {
  if (!(await bookkeepingExists(target, 'dumps'))) return undefined;
  const { rows } = await target.query<{ dump: Buffer }>(`SELECT dump FROM ${MARKER_SCHEMA}.dumps WHERE workflow_id = $1`, [workflowId]);
  return rows[0]?.dump;
}

export async function dropMarkers(target: Client): Promise<void> {
  await target.query(`DROP SCHEMA IF EXISTS ${MARKER_SCHEMA} CASCADE`);
}
