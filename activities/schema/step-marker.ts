/**
 * Marks a schema step done in the target, inside the same transaction as the step itself, so
 * that a retry after a commit whose acknowledgement was lost skips the step instead of failing
 * on "already exists". The `_pgferry` schema is dropped when the migration finishes.
 */
import type { Client } from 'pg';
import { quoteLiteral } from '../db';

export const MARKER_SCHEMA = '_pgferry';

export function markerSql(workflowId: string, step: string): string {
  return `
CREATE SCHEMA IF NOT EXISTS ${MARKER_SCHEMA};
CREATE TABLE IF NOT EXISTS ${MARKER_SCHEMA}.steps (workflow_id text, step text, done_at timestamptz DEFAULT now(), PRIMARY KEY (workflow_id, step));
INSERT INTO ${MARKER_SCHEMA}.steps (workflow_id, step) VALUES (${quoteLiteral(workflowId)}, ${quoteLiteral(step)});
`;
}

export async function isStepDone(target: Client, workflowId: string, step: string): Promise<boolean> {
  const { rows } = await target.query<{ done: boolean }>(
    `SELECT to_regclass('${MARKER_SCHEMA}.steps') IS NOT NULL AS done`,
  );
  if (!rows[0].done) return false;
  const found = await target.query(`SELECT 1 FROM ${MARKER_SCHEMA}.steps WHERE workflow_id = $1 AND step = $2`, [workflowId, step]);
  return (found.rowCount ?? 0) > 0;
}

export async function dropMarkers(target: Client): Promise<void> {
  await target.query(`DROP SCHEMA IF EXISTS ${MARKER_SCHEMA} CASCADE`);
}
