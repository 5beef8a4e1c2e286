/**
 * Lists the source tables that hold data (plain tables and leaf partitions; a partitioned
 * parent has no rows of its own), read under the copy snapshot so the list matches the data.
 */
import type { Client } from 'pg';
import type { TableRef } from '../../common/plan';
import { closeInBackground, openClient, qualified, quoteIdent } from '../db';
import { beginUnderSnapshot } from '../snapshot-transaction';
import { blockBounds, chunkCount, keyBounds, type TableSplit } from '../../common/table-split';
import { resolveBoth, type ActivityDeps, type Endpoints } from '../deps';
import { guarded } from '../errors';
import type { ObjectsSpec } from '../../common/objects-spec';
import { selectsEverything, type TableSelection } from '../../common/selection';
import { tableKey } from '../../common/plan';
import { readSelection } from '../objects/read-selection';

/**
 * The user tables, from the catalog only. Their sizes are read apart (tableSizes): a size
 * function locks its table until the transaction ends, and one statement over 10,000 tables
 * would hold 20,000 locks (table and TOAST), more than a default lock table holds.
 */
export const USER_TABLES_SQL = `
  SELECT c.oid, n.nspname AS schema, c.relname AS name
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind = 'r'
     AND c.relpersistence <> 't'
     AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_pgferry')
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
     -- tables that belong to an extension are created by CREATE EXTENSION on the target
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                      WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
   ORDER BY 1, 2`;

export interface ListTablesInput extends Endpoints {
  /** Absent: the source as it is now (the tables to compare at a cutover after replicated DDL). */
  snapshot?: string;
  /** The spec's objects section (absent or empty: every table as it is). */
  objects?: ObjectsSpec;
  conflicts?: 'error' | 'ignore';
  /** Tables at least this big (bytes) are split into chunks (copy.splitLargerThan; absent or 0: none). */
  splitLargerThan?: number;
}

export function makeListTables(deps: ActivityDeps) {
  return async function listTables(input: ListTablesInput): Promise<TableRef[]> {
    const { source, target, secrets } = resolveBoth(deps, input);
    let src: Client | undefined;
    let tgt: Client | undefined;
    try {
      return await guarded({ doing: `list tables of source ${source.label}`, secrets, retry: input.retry }, async () => {
        src = await openClient(source, 'plan');
        if (input.snapshot) await beginUnderSnapshot(src, input.snapshot);
        else await src.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const { rows: tables } = await src.query<{ oid: number; schema: string; name: string }>(USER_TABLES_SQL);
        const objects = input.objects;
        const selected = objects && !selectsEverything(objects) ? await readSelection(src, objects, input.conflicts ?? 'error') : undefined;
        await src.query('COMMIT');
        // Sizes are not transactional: read outside the snapshot, a few hundred tables at a time.
        const sizes = await tableSizes(src, tables.map((t) => t.oid));
        const rows = tables.map((t) => ({ schema: t.schema, name: t.name, bytes: sizes.get(Number(t.oid)) ?? 0 }));
        const splits = new Map<string, TableSplit>();
        const big = rows.map((r) => ({ r, chunks: chunkCount(r.bytes, input.splitLargerThan ?? 0) })).filter((b) => b.chunks > 1);
        if (big.length) {
          if (input.snapshot) await beginUnderSnapshot(src, input.snapshot);
          else await src.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
          for (const { r, chunks } of big) {
            const split = await planSplit(src, r, chunks);
            if (split) splits.set(tableKey(r), split);
          }
          await src.query('COMMIT');
        }
        tgt = await openClient(target, 'plan');
        const existing = await existingTables(tgt);
        const byKey = selected && new Map(selected.tables.map((t) => [tableKey(t), t]));
        return rows.flatMap((r) => {
          const choice = byKey?.get(tableKey(r));
          if (byKey && !choice) return [];
          const split = splits.get(tableKey(r));
          const ref: TableRef = { schema: r.schema, name: r.name, estimatedBytes: r.bytes, ...(choice ? mapping(choice) : {}), ...(split ? { split } : {}) };
          if (existing.has(tableKey(ref.target ?? ref))) ref.preexisting = true;
          return [ref];
        });
      });
    } finally {
      closeInBackground(src);
      closeInBackground(tgt);
    }
  };
}

/** Tables' sizes (pg_table_size) by oid, each statement its own transaction: it locks what it measures. */
export async function tableSizes(client: Client, oids: number[]): Promise<Map<number, number>> {
  const sizes = new Map<number, number>();
  for (let i = 0; i < oids.length; i += SIZES_PER_STATEMENT) {
    const { rows } = await client.query<{ oid: number; bytes: string | null }>(
      'SELECT o AS oid, pg_catalog.pg_table_size(o)::bigint AS bytes FROM unnest($1::oid[]) AS o',
      [oids.slice(i, i + SIZES_PER_STATEMENT)],
    );
    for (const r of rows) sizes.set(Number(r.oid), Number(r.bytes ?? 0)); // null: dropped meanwhile
  }
  return sizes;
}

const SIZES_PER_STATEMENT = 500;

/**
 * How to split a big table, read under the snapshot: by its one-column integer primary key
 * when it has one (equal ranges between its smallest and largest key), else by heap blocks.
 * Undefined when there is nothing to split (an empty table, fewer keys or blocks than chunks).
 */
export async function planSplit(src: Client, table: { schema: string; name: string }, chunks: number): Promise<TableSplit | undefined> {
  const name = qualified(table);
  const { rows: keys } = await src.query<{ column: string }>(
    `SELECT a.attname AS column FROM pg_catalog.pg_index i
       JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
      WHERE i.indrelid = $1::regclass AND i.indisprimary AND i.indnkeyatts = 1
        AND a.atttypid IN ('pg_catalog.int2'::regtype, 'pg_catalog.int4'::regtype, 'pg_catalog.int8'::regtype)`,
    [name],
  );
  if (keys.length) {
    const column = keys[0].column;
    const { rows } = await src.query<{ min: string | null; max: string | null }>(`SELECT min(${quoteIdent(column)})::text AS min, max(${quoteIdent(column)})::text AS max FROM ONLY ${name}`);
    if (rows[0].min === null || rows[0].max === null) return undefined;
    const bounds = keyBounds(BigInt(rows[0].min), BigInt(rows[0].max), chunks);
    return bounds.length ? { by: 'key', column, bounds } : undefined;
  }
  const { rows } = await src.query<{ blocks: string }>(`SELECT pg_catalog.pg_relation_size($1::regclass) / current_setting('block_size')::int8 AS blocks`, [name]);
  const bounds = blockBounds(Number(rows[0].blocks), chunks);
  return bounds.length ? { by: 'blocks', bounds } : undefined;
}

/** What a table's copy needs from its selection (only what differs from a plain copy). */
function mapping(t: TableSelection): Partial<TableRef> {
  const out: Partial<TableRef> = {};
  if (t.target.schema !== t.schema || t.target.name !== t.name) out.target = t.target;
  if (t.columns) out.columns = t.columns;
  if (t.where) out.where = t.where;
  return out;
}

/** Tables already in the target, as JSON [schema, name] keys (tableKey). */
export async function existingTables(client: Client): Promise<Set<string>> {
  const { rows } = await client.query<{ schema: string; name: string }>(USER_TABLES_SQL);
  return new Set(rows.map((r) => JSON.stringify([r.schema, r.name])));
}
