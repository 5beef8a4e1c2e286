/**
 * How one table is compared: its source and target names, the columns and rows that migrate
 * (the objects section, as the stream applies it), and its chunks. A table with a one-column
 * integer primary key is cut into key ranges of about `chunkRows` rows (equal-width ranges
 * between its smallest and largest key, read under the source snapshot; the first and last
 * are open, so rows outside that span on the target are compared too); any other table is
 * compared whole. Read on the source inside the caller's snapshot transaction.
 */
import type { Client } from 'pg';
import type { TableRef } from '../../common/plan';
import { chunkRanges, keyBounds, MAX_CHUNKS, type ChunkRange } from '../../common/table-split';
import { qualified, quoteIdent } from '../db';

export interface VerifyTable {
  ref: TableRef;
  source: { schema: string; name: string };
  target: { schema: string; name: string };
  /** The source's row expression: ROW(selected columns) when not all migrate, else the whole row. */
  sourceColumns?: string;
  /** The key's name on each side (tables chunked by key). */
  key?: { source: string; target: string };
  /** Key ranges; a single whole-table chunk when there is no key. */
  chunks: ChunkRange[];
  /** Columns COPY writes when a chunk is repaired (generated ones left out), same order on both sides. */
  copyColumns: { source: string[]; target: string[] };
}

type Column = { name: string; generated: boolean };

async function columnsOf(client: Client, table: { schema: string; name: string }): Promise<Column[]> {
  const { rows } = await client.query<{ name: string; generated: boolean }>(
    `SELECT attname AS name, attgenerated <> '' AS generated FROM pg_catalog.pg_attribute
      WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [qualified(table)],
  );
  return rows;
}

export async function planVerifyTable(src: Client, tgt: Client, ref: TableRef, chunkRows: number): Promise<VerifyTable> {
  const source = { schema: ref.schema, name: ref.name };
  const target = ref.target ?? source; // renamed after post-data: the stream writes the target names
  const all = await columnsOf(src, source);
  const selected = ref.columns ? all.filter((c) => ref.columns!.includes(c.name)) : all;
  const targetColumns = await columnsOf(tgt, target);
  if (targetColumns.length !== selected.length) {
    throw new Error(`${target.schema}.${target.name} on the target has ${targetColumns.length} columns where the source's ${source.schema}.${source.name} migrates ${selected.length}: its shape changed behind pgferry's back`);
  }
  const copyColumns = {
    source: selected.filter((c) => !c.generated).map((c) => c.name),
    target: targetColumns.filter((c) => !c.generated).map((c) => c.name),
  };
  const plan: VerifyTable = { ref, source, target, chunks: [wholeTable()], copyColumns, ...(ref.columns ? { sourceColumns: selected.map((c) => quoteIdent(c.name)).join(', ') } : {}) };

  const { rows: keys } = await src.query<{ column: string; rows: string }>(
    `SELECT a.attname AS column, c.reltuples::int8::text AS rows FROM pg_catalog.pg_index i
       JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
       JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
      WHERE i.indrelid = $1::regclass AND i.indisprimary AND i.indnkeyatts = 1
        AND a.atttypid IN ('pg_catalog.int2'::regtype, 'pg_catalog.int4'::regtype, 'pg_catalog.int8'::regtype)`,
    [qualified(source)],
  );
  const at = keys.length ? selected.findIndex((c) => c.name === keys[0].column) : -1;
  if (at < 0) return plan;
  plan.key = { source: keys[0].column, target: targetColumns[at].name };
  const column = quoteIdent(plan.key.source);
  const { rows } = await src.query<{ min: string | null; max: string | null }>(`SELECT min(${column})::text AS min, max(${column})::text AS max FROM ONLY ${qualified(source)}`);
  if (rows[0].min === null || rows[0].max === null) return plan; // empty: compared whole
  // The planner's row estimate; a table never analyzed has none (-1): then the key span.
  const span = BigInt(rows[0].max) - BigInt(rows[0].min) + 1n;
  const estimate = Number(keys[0].rows) > 0 ? Number(keys[0].rows) : Number(span);
  const count = Math.min(MAX_CHUNKS, Math.max(1, Math.ceil(estimate / chunkRows)));
  const bounds = keyBounds(BigInt(rows[0].min), BigInt(rows[0].max), count);
  plan.chunks = chunkRanges({ by: 'key', column: plan.key.source, bounds });
  return plan;
}

function wholeTable(): ChunkRange {
  return { index: 0, count: 1, by: 'key' };
}

/** The chunk's range on one side (the key's name differs when renamed); undefined: the whole table. */
export function rangeCondition(chunk: ChunkRange, keyName: string | undefined): string | undefined {
  if (!keyName) return undefined;
  const bound = (v: string) => {
    if (!/^-?\d+$/.test(v)) throw new Error(`invalid chunk bound ${JSON.stringify(v)}`);
    return v;
  };
  const key = quoteIdent(keyName);
  const parts = [...(chunk.from !== undefined ? [`${key} >= ${bound(chunk.from)}`] : []), ...(chunk.to !== undefined ? [`${key} < ${bound(chunk.to)}`] : [])];
  return parts.length ? parts.join(' AND ') : undefined;
}

/** The source's rows of a chunk: its range and the table's row filter. */
export function sourceCondition(t: VerifyTable, chunk: ChunkRange): string | undefined {
  const parts = [rangeCondition(chunk, t.key?.source), t.ref.where ? `(${t.ref.where})` : undefined].filter((p) => p !== undefined);
  return parts.length ? parts.join(' AND ') : undefined;
}

export function targetCondition(t: VerifyTable, chunk: ChunkRange): string | undefined {
  return rangeCondition(chunk, t.key?.target);
}

/** `chunk 2/4 (id 100000–199999)`, or `whole table`. */
export function chunkLabel(t: VerifyTable, chunk: ChunkRange): string {
  if (!t.key) return 'whole table';
  return `chunk ${chunk.index + 1}/${chunk.count} (${t.key.source} ${chunk.from ?? '…'}–${chunk.to ?? '…'})`;
}
