/**
 * Foreign keys added by the copy, as soon as the tables at both ends are in the target.
 *
 * pg_dump puts foreign keys in post-data, and pgferry's post-data step restores them after the
 * last copy: the check of a big table's key then ran alone at the end of the migration (on the
 * benchmark's big database, `pgbench_accounts`' key: 0.7 s with a core idle, after the other
 * table's builds). Instead, a copy unit whose table and the table at the key's other end are
 * both in (the other committed by an earlier unit under a snapshot this copy keeps, or copied
 * by this unit) adds the key in its own transaction, beside the copies still running. Post-data
 * skips what exists (schema/existing-objects.ts).
 *
 * Each key is tried in a savepoint with a lock timeout: a key that fails (its check, a column
 * the migration leaves out, a row filter that left a referenced row behind) or waits too long
 * is left to post-data, which restores, leaves out or reports it as before. So this never does
 * less than post-data would, whatever the tables' selection. Keys are added in the order of
 * the other end's name: units waiting for each other's locks always wait in the same
 * direction, never in a circle.
 *
 * A table copied again (its unit was recorded under a lost snapshot) first drops the keys at
 * either end (dropStatements): TRUNCATE refuses a table that another table's key points at, and
 * a key on the table itself would check every row of the COPY. Post-data, or the later of the
 * two units, adds them again.
 */
import type { Client } from 'pg';
import { tableKey } from '../../common/plan';
import { MARKER_SCHEMA } from '../schema/step-marker';
import { qualified, quoteIdent } from '../db';
import { tryEach } from './try-each';

type TableName = { schema: string; name: string };

export interface ForeignKey {
  /** The table holding the key, and the table it points at (source names: renames come after post-data). */
  table: TableName;
  references: TableName;
  name: string;
  /** The statement pg_dump would write. */
  sql: string;
}

/** How long a key waits for a lock held by another unit before it is left to post-data. */
const LOCK_TIMEOUT = '3s';

/**
 * The foreign keys between plain tables with one end among `tables`, read from the source under
 * the copy's snapshot (a key inherited from a partitioned table belongs to its parent: post-data).
 */
export async function readForeignKeys(source: Client, tables: TableName[]): Promise<ForeignKey[]> {
  if (!tables.length) return [];
  await source.query('SET LOCAL search_path = pg_catalog, pg_temp'); // names come out schema-qualified
  const { rows } = await source.query<{ name: string; def: string; schema: string; table: string; ref_schema: string; ref_table: string }>(
    `SELECT k.conname AS name, pg_catalog.pg_get_constraintdef(k.oid) AS def,
            n.nspname AS schema, c.relname AS table, fn.nspname AS ref_schema, f.relname AS ref_table
       FROM pg_catalog.pg_constraint k
       JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_catalog.pg_class f ON f.oid = k.confrelid
       JOIN pg_catalog.pg_namespace fn ON fn.oid = f.relnamespace
      WHERE k.contype = 'f' AND c.relkind = 'r' AND f.relkind = 'r'
        -- conparentid (PostgreSQL 11+) through to_jsonb: a PostgreSQL 10 source has no such column
        AND coalesce((pg_catalog.to_jsonb(k)->>'conparentid')::oid, 0) = 0
        AND (k.conrelid = ANY($1::regclass[]) OR k.confrelid = ANY($1::regclass[]))`,
    [tables.map(qualified)],
  );
  return rows.map((r) => ({
    table: { schema: r.schema, name: r.table },
    references: { schema: r.ref_schema, name: r.ref_table },
    name: r.name,
    sql: `ALTER TABLE ONLY ${qualified({ schema: r.schema, name: r.table })} ADD CONSTRAINT ${quoteIdent(r.name)} ${r.def}`,
  }));
}

/**
 * Which of `tables` units of this migration copied whole and committed under one of
 * `snapshots` (the copy's, and the lost ones whose work it keeps). A split table's chunks do
 * not count.
 */
export async function tablesIn(target: Client, workflowId: string, snapshots: string[], tables: TableName[]): Promise<Set<string>> {
  if (!tables.length) return new Set();
  const { rows } = await target.query<TableName>(
    `SELECT DISTINCT r->>'schema' AS schema, r->>'name' AS name
       FROM ${MARKER_SCHEMA}.units u, pg_catalog.jsonb_array_elements(u.results) r
      WHERE u.workflow_id = $1 AND u.snapshot = ANY($2::text[]) AND NOT r ? 'chunk'
        AND (r->>'schema', r->>'name') IN (SELECT * FROM ROWS FROM (pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::text[])))`,
    [workflowId, snapshots, tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  return new Set(rows.map(tableKey));
}

/** The tables at the other ends of `keys` that are not among `copied`. */
export function otherEnds(keys: ForeignKey[], copied: Set<string>): TableName[] {
  const ends = new Map(keys.flatMap((k) => [k.table, k.references]).filter((t) => !copied.has(tableKey(t))).map((t) => [tableKey(t), t]));
  return [...ends.values()];
}

/** The keys whose two ends are in: `copied` by this unit, or `committed` before. In lock order. */
export function readyKeys(keys: ForeignKey[], copied: Set<string>, committed: Set<string>): ForeignKey[] {
  const isIn = (t: TableName) => copied.has(tableKey(t)) || committed.has(tableKey(t));
  // The end this unit did not copy is the one whose lock may be waited for.
  const other = (k: ForeignKey) => tableKey(copied.has(tableKey(k.references)) ? k.table : k.references);
  return keys
    .filter((k) => isIn(k.table) && isIn(k.references))
    .sort((a, b) => compare(other(a), other(b)) || compare(tableKey(a.table), tableKey(b.table)) || compare(a.name, b.name));
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Adds `keys` in the unit's open transaction, each in a savepoint: one that fails its check or
 * waits past the lock timeout is rolled back and left to post-data.
 */
export async function addForeignKeys(target: Client, keys: ForeignKey[]): Promise<void> {
  if (!keys.length) return;
  // Lasts until the unit commits, right after: the keys (and its tables' triggers) are its last statements but its record.
  await target.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
  await tryEach(target, keys.map((k) => k.sql));
}

/**
 * Before a table is copied again: statements dropping the foreign keys at either end of it that
 * an earlier unit added (pre-data creates none).
 */
export async function dropStatements(target: Client, table: TableName): Promise<string[]> {
  const { rows } = await target.query<{ name: string; schema: string; table: string }>(
    `SELECT k.conname AS name, n.nspname AS schema, c.relname AS table
       FROM pg_catalog.pg_constraint k
       JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE k.contype = 'f' AND (k.conrelid = $1::regclass OR k.confrelid = $1::regclass)
      ORDER BY n.nspname, c.relname, k.conname`,
    [qualified(table)],
  );
  // IF EXISTS: the unit at the other end, copied again too, may have dropped it first.
  return rows.map((r) => `ALTER TABLE ONLY ${qualified({ schema: r.schema, name: r.table })} DROP CONSTRAINT IF EXISTS ${quoteIdent(r.name)}`);
}
