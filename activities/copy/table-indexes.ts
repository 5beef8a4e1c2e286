/**
 * The indexes and keys of a copied table, built by the copy itself right after the rows are in,
 * in the same target transaction. Index builds then overlap with the copies of other tables
 * (instead of all waiting for the post-data step), and a retried copy rebuilds them from
 * scratch like the rows. Post-data skips what already exists.
 *
 * The statements are the ones pg_dump would write, taken from the same catalog functions
 * (pg_get_indexdef, pg_get_constraintdef) with an empty search path, so names come out
 * schema-qualified.
 */
import type { Client } from 'pg';
import { tableKey } from '../../common/plan';
import { qualified, quoteIdent } from '../db';

interface IndexRow {
  schema: string;
  name: string;
  index_name: string;
  conname: string | null;
  condef: string | null;
  idxdef: string;
  replident: boolean;
  clustered: boolean;
  /** Every column the index uses (keys, expressions, predicate). */
  columns: string[];
}

export interface IndexStatement {
  /** The index the statement creates, or undefined for statements that may run again. */
  creates?: string;
  sql: string;
}

/**
 * Statements per table (by tableKey), read from the source under the copy snapshot. Indexes
 * (and the keys they back) that use a column left out of a table's `columns` are skipped.
 */
export async function readIndexStatements(source: Client, tables: Array<{ schema: string; name: string; columns?: string[] }>): Promise<Map<string, IndexStatement[]>> {
  await source.query('SET LOCAL search_path = pg_catalog, pg_temp');
  const { rows } = await source.query<IndexRow>(
    `SELECT n.nspname AS schema, t.relname AS name, ic.relname AS index_name, k.conname,
            pg_catalog.pg_get_constraintdef(k.oid) AS condef, pg_catalog.pg_get_indexdef(i.indexrelid) AS idxdef,
            i.indisreplident AS replident, i.indisclustered AS clustered,
            ARRAY(SELECT a.attname::text FROM pg_catalog.pg_depend d
                    JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                   WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = i.indexrelid
                     AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = i.indrelid AND d.refobjsubid > 0) AS columns
       FROM pg_catalog.pg_index i
       JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
       JOIN pg_catalog.pg_class t ON t.oid = i.indrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
       LEFT JOIN pg_catalog.pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x')
      WHERE i.indrelid = ANY($1::regclass[]) AND i.indisvalid
      -- keys first: foreign keys of other tables and ATTACH steps refer to them
      ORDER BY i.indrelid, k.conname IS NULL, ic.relname`,
    [tables.map(qualified)],
  );
  const kept = new Map(tables.filter((t) => t.columns).map((t) => [tableKey(t), new Set(t.columns)]));
  const out = new Map<string, IndexStatement[]>();
  for (const r of rows) {
    const columns = kept.get(tableKey(r));
    if (columns && r.columns.some((c) => !columns.has(c))) continue; // uses a column that is not migrated
    const table = qualified(r);
    const list = out.get(tableKey(r)) ?? [];
    const create = r.conname && r.condef ? `ALTER TABLE ONLY ${table} ADD CONSTRAINT ${quoteIdent(r.conname)} ${r.condef}` : r.idxdef;
    list.push({ creates: r.index_name, sql: create });
    if (r.replident) list.push({ sql: `ALTER TABLE ONLY ${table} REPLICA IDENTITY USING INDEX ${quoteIdent(r.index_name)}` });
    if (r.clustered) list.push({ sql: `ALTER TABLE ${table} CLUSTER ON ${quoteIdent(r.index_name)}` });
    out.set(tableKey(r), list);
  }
  return out;
}

/**
 * Index names a table already has on the target: after a lost snapshot the table is copied
 * again into the table an earlier attempt indexed (TRUNCATE keeps the indexes, emptied).
 */
export async function existingIndexNames(target: Client, table: { schema: string; name: string }): Promise<Set<string>> {
  const { rows } = await target.query<{ relname: string }>(
    'SELECT c.relname FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = $1::regclass',
    [qualified(table)],
  );
  return new Set(rows.map((r) => r.relname));
}
