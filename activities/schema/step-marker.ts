/**
 * pgferry's bookkeeping in the target, in a `_pgferry` schema dropped when the migration
 * finishes:
 *   steps    schema steps done, marked in the same transaction as the step itself, so a retry
 *            after a commit whose acknowledgement was lost skips it instead of failing on
 *            "already exists";
 *   units    copy units committed, with their results, for the same reason;
 *   dumps    the schema dump taken under the snapshot, so post-data (maybe on another worker)
 *            restores from the same dump without reading the source catalog again;
 *   progress how far a step too big for one transaction got (pre-data of thousands of
 *            tables commits in batches that fit the lock table), committed with each batch.
 */
import { open } from 'node:fs/promises';
import type { Client } from 'pg';
import { quoteLiteral } from '../db';

export const MARKER_SCHEMA = '_pgferry';

export const BOOKKEEPING_DDL = `
CREATE SCHEMA IF NOT EXISTS ${MARKER_SCHEMA};
CREATE TABLE IF NOT EXISTS ${MARKER_SCHEMA}.steps (workflow_id text, step text, done_at timestamptz DEFAULT now(), PRIMARY KEY (workflow_id, step));
CREATE TABLE IF NOT EXISTS ${MARKER_SCHEMA}.units (workflow_id text, unit_id int, snapshot text, results jsonb, PRIMARY KEY (workflow_id, unit_id));
CREATE TABLE IF NOT EXISTS ${MARKER_SCHEMA}.dumps (workflow_id text PRIMARY KEY, dump bytea, skip int[], existing_schemas text[]);
CREATE TABLE IF NOT EXISTS ${MARKER_SCHEMA}.progress (workflow_id text, step text, done bigint, PRIMARY KEY (workflow_id, step));
`;

export function markerSql(workflowId: string, step: string): string {
  return `${BOOKKEEPING_DDL}
INSERT INTO ${MARKER_SCHEMA}.steps (workflow_id, step) VALUES (${quoteLiteral(workflowId)}, ${quoteLiteral(step)});
`;
}

/** Records, in the transaction about to commit, that `done` items of a step are in. */
export function progressSql(workflowId: string, step: string, done: number): string {
  return `${BOOKKEEPING_DDL}
INSERT INTO ${MARKER_SCHEMA}.progress (workflow_id, step, done) VALUES (${quoteLiteral(workflowId)}, ${quoteLiteral(step)}, ${done})
  ON CONFLICT (workflow_id, step) DO UPDATE SET done = EXCLUDED.done;
`;
}

/** How many items of a step earlier attempts committed (0: none, or the step is not batched). */
export async function loadProgress(target: Client, workflowId: string, step: string): Promise<number> {
  if (!(await bookkeepingExists(target, 'progress'))) return 0;
  const { rows } = await target.query<{ done: string }>(`SELECT done FROM ${MARKER_SCHEMA}.progress WHERE workflow_id = $1 AND step = $2`, [workflowId, step]);
  return Number(rows[0]?.done ?? 0);
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

/**
 * Saves the dump, the dump ids the selection leaves out (objects) for post-data, and which
 * schemas the target had before the restore (a renamed schema that was there is not renamed
 * wholesale: only what the migration created moves).
 */
export async function saveDump(target: Client, workflowId: string, dump: Buffer, skip: number[] = [], existingSchemas: string[] = []): Promise<void> {
  await target.query(BOOKKEEPING_DDL);
  await target.query(
    `INSERT INTO ${MARKER_SCHEMA}.dumps (workflow_id, dump, skip, existing_schemas) VALUES ($1, $2, $3, $4)
     ON CONFLICT (workflow_id) DO UPDATE SET dump = EXCLUDED.dump, skip = EXCLUDED.skip, existing_schemas = EXCLUDED.existing_schemas`,
    [workflowId, dump, skip, existingSchemas],
  );
}

/** The target's schemas from before the migration's restore (see saveDump). */
export async function loadExistingSchemas(target: Client, workflowId: string): Promise<string[]> {
  if (!(await bookkeepingExists(target, 'dumps'))) return [];
  const { rows } = await target.query<{ existing_schemas: string[] | null }>(`SELECT existing_schemas FROM ${MARKER_SCHEMA}.dumps WHERE workflow_id = $1`, [workflowId]);
  return rows[0]?.existing_schemas ?? [];
}

/** Slices of the saved dump read at a time: a 2,000-table schema dump is ~3 MB, sent as hex text. */
const DUMP_SLICE_BYTES = 1 << 20;

/**
 * Writes the saved dump to `file` slice by slice (the worker never holds the whole dump and
 * its hex text at once) and returns the dump ids to leave out; undefined when none was saved.
 */
export async function loadDumpInto(target: Client, workflowId: string, file: string): Promise<{ skip: number[] } | undefined> {
  if (!(await bookkeepingExists(target, 'dumps'))) return undefined;
  const { rows } = await target.query<{ size: number; skip: number[] | null }>(`SELECT length(dump) AS size, skip FROM ${MARKER_SCHEMA}.dumps WHERE workflow_id = $1`, [workflowId]);
  if (!rows[0]) return undefined;
  const out = await open(file, 'w');
  try {
    for (let at = 0; at < rows[0].size; at += DUMP_SLICE_BYTES) {
      const { rows: slice } = await target.query<{ bytes: Buffer }>(`SELECT substring(dump FROM $2 FOR $3) AS bytes FROM ${MARKER_SCHEMA}.dumps WHERE workflow_id = $1`, [workflowId, at + 1, DUMP_SLICE_BYTES]);
      await out.write(slice[0].bytes);
    }
  } finally {
    await out.close();
  }
  return { skip: rows[0].skip ?? [] };
}

export async function dropMarkers(target: Client): Promise<void> {
  await target.query(`DROP SCHEMA IF EXISTS ${MARKER_SCHEMA} CASCADE`);
}
