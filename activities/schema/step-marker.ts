/**
 * pgferry's bookkeeping in the target, in a `_pgferry` schema dropped when the migration
 * finishes:
 *   steps    schema steps done, marked in the same transaction as the step itself, so a retry
 *            after a commit whose acknowledgement was lost skips it instead of failing on
 *            "already exists";
 *   units    copy units committed, with their results, for the same reason;
 *   dumps    the schema dump taken under the snapshot, so post-data (maybe on another worker)
 *            restores from the same dump without reading the source catalog again;
 *   listings the dump's table of contents (`pg_restore -l`) and which of its entries are
 *            post-data, read by pre-data beside its restore: post-data, at the end of every
 *            migration, often finds everything built and then needs neither the dump nor
 *            pg_restore;
 *   progress how far a step too big for one transaction got (pre-data of thousands of
 *            tables commits in batches that fit the lock table), committed with each batch.
 */
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type { Client } from 'pg';
import { quoteLiteral } from '../db';
import { BinaryCopyValue } from './binary-copy-value';
import { binaryCopyRow } from './binary-copy-row';
import { parseToc, type TocEntry } from './existing-objects';

export const MARKER_SCHEMA = '_pgferry';

export const BOOKKEEPING_DDL = `
CREATE SCHEMA IF NOT EXISTS ${MARKER_SCHEMA};
CREATE TABLE IF NOT EXISTS ${MARKER_SCHEMA}.steps (workflow_id text, step text, done_at timestamptz DEFAULT now(), PRIMARY KEY (workflow_id, step));
CREATE TABLE IF NOT EXISTS ${MARKER_SCHEMA}.units (workflow_id text, unit_id int, snapshot text, results jsonb, PRIMARY KEY (workflow_id, unit_id));
CREATE TABLE IF NOT EXISTS ${MARKER_SCHEMA}.dumps (workflow_id text PRIMARY KEY, dump bytea, skip int[], existing_schemas text[]);
CREATE TABLE IF NOT EXISTS ${MARKER_SCHEMA}.progress (workflow_id text, step text, done bigint, PRIMARY KEY (workflow_id, step));
CREATE TABLE IF NOT EXISTS ${MARKER_SCHEMA}.listings (workflow_id text PRIMARY KEY, all_entries text, post_data int[]);
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
export async function saveDump(target: Client, workflowId: string, dumpFile: string, skip: number[] = [], existingSchemas: string[] = []): Promise<void> {
  await target.query(BOOKKEEPING_DDL);
  await target.query('BEGIN');
  try {
    await target.query(`DELETE FROM ${MARKER_SCHEMA}.dumps WHERE workflow_id = $1`, [workflowId]);
    // The dump streams in as a binary COPY (binary-copy-row.ts), the rest follows as a plain
    // UPDATE (which keeps the stored dump as it is: an unchanged TOAST value is not copied).
    await pipeline(Readable.from(binaryCopyRow(workflowId, dumpFile)), target.query(copyFrom(`COPY ${MARKER_SCHEMA}.dumps (workflow_id, dump) FROM STDIN (FORMAT binary)`)));
    await target.query(`UPDATE ${MARKER_SCHEMA}.dumps SET skip = $2, existing_schemas = $3 WHERE workflow_id = $1`, [workflowId, skip, existingSchemas]);
    await target.query('COMMIT');
  } catch (err) {
    await target.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** The target's schemas from before the migration's restore (see saveDump). */
export async function loadExistingSchemas(target: Client, workflowId: string): Promise<string[]> {
  if (!(await bookkeepingExists(target, 'dumps'))) return [];
  const { rows } = await target.query<{ existing_schemas: string[] | null }>(`SELECT existing_schemas FROM ${MARKER_SCHEMA}.dumps WHERE workflow_id = $1`, [workflowId]);
  return rows[0]?.existing_schemas ?? [];
}

/**
 * Writes the saved dump to `file` and returns the dump ids to leave out; undefined when none
 * was saved. The dump comes as a binary COPY, streamed to the file: read as a query result it
 * was hex text twice its size, then a Buffer, garbage that outlived the read (10,000 tables:
 * a ~15 MB dump, 20-30 MiB of the worker's peak memory at post-data).
 */
export async function loadDumpInto(target: Client, workflowId: string, file: string): Promise<{ skip: number[] } | undefined> {
  if (!(await bookkeepingExists(target, 'dumps'))) return undefined;
  const { rows } = await target.query<{ skip: number[] | null }>(`SELECT skip FROM ${MARKER_SCHEMA}.dumps WHERE workflow_id = $1`, [workflowId]);
  if (!rows[0]) return undefined;
  const value = new BinaryCopyValue();
  const copy = `COPY (SELECT dump FROM ${MARKER_SCHEMA}.dumps WHERE workflow_id = ${quoteLiteral(workflowId)}) TO STDOUT (FORMAT binary)`;
  await pipeline(target.query(copyTo(copy)), value, createWriteStream(file));
  return { skip: rows[0].skip ?? [] };
}

/** A dump's table of contents: every entry, and the dump ids of the post-data section's. */
export interface DumpListing {
  all: TocEntry[];
  postData: number[];
}

/** Saves the dump's listing in pre-data's last transaction, whose marker (markerSql) made the bookkeeping. */
export async function saveListing(target: Client, workflowId: string, listing: DumpListing): Promise<void> {
  await target.query(
    `INSERT INTO ${MARKER_SCHEMA}.listings (workflow_id, all_entries, post_data) VALUES ($1, $2, $3)
       ON CONFLICT (workflow_id) DO UPDATE SET all_entries = EXCLUDED.all_entries, post_data = EXCLUDED.post_data`,
    [workflowId, listing.all.map((e) => e.line).join('\n'), listing.postData],
  );
}

/**
 * The listing pre-data saved, with the dump ids the selection leaves out; undefined when there
 * is none (no pre-data step, or one from before listings were saved).
 */
export async function loadListing(target: Client, workflowId: string): Promise<(DumpListing & { skip: number[] }) | undefined> {
  if (!(await bookkeepingExists(target, 'listings'))) return undefined;
  const { rows } = await target.query<{ all_entries: string; post_data: number[]; skip: number[] | null }>(
    `SELECT l.all_entries, l.post_data, d.skip FROM ${MARKER_SCHEMA}.listings l JOIN ${MARKER_SCHEMA}.dumps d USING (workflow_id) WHERE l.workflow_id = $1`,
    [workflowId],
  );
  if (!rows[0]) return undefined;
  return { all: parseToc(rows[0].all_entries), postData: rows[0].post_data, skip: rows[0].skip ?? [] };
}

export async function dropMarkers(target: Client): Promise<void> {
  await target.query(`DROP SCHEMA IF EXISTS ${MARKER_SCHEMA} CASCADE`);
}
