/** What a table copy needs to know about its tables' columns, read from the source catalog. */
import type { Client } from 'pg';
import { tableKey } from '../../common/plan';
import { qualified, quoteIdent } from '../db';

export interface CopyColumns {
  /** The column names (unquoted), in table order. */
  names: string[];
  /** Quoted, comma-separated list of the columns COPY writes (generated columns excluded). */
  list: string;
  /**
   * Binary COPY embeds type OIDs inside arrays and composite values, and the target's OIDs
   * for user-defined types differ from the source's, so such tables go through text format.
   */
  format: 'binary' | 'text';
}

/** The columns of every given table, in one catalog query. */
export async function readCopyColumns(source: Client, tables: Array<{ schema: string; name: string }>): Promise<Map<string, CopyColumns>> {
  const { rows } = await source.query<{ schema: string; name: string; column: string; oid_sensitive: boolean }>(
    `SELECT n.nspname AS schema, c.relname AS name, a.attname AS column,
            (bt.typtype = 'c' OR (bt.typelem <> 0 AND et.oid >= 16384 AND bt.typlen = -1)) AS oid_sensitive
       FROM pg_catalog.pg_attribute a
       JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
       -- a domain's base type decides its wire format
       JOIN pg_catalog.pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
       LEFT JOIN pg_catalog.pg_type et ON et.oid = bt.typelem
      WHERE a.attrelid = ANY($1::regclass[]) AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
      ORDER BY a.attrelid, a.attnum`,
    [tables.map(qualified)],
  );
  const columns = new Map<string, { names: string[]; text: boolean }>();
  for (const r of rows) {
    const key = tableKey(r);
    const entry = columns.get(key) ?? { names: [], text: false };
    entry.names.push(r.column);
    entry.text ||= r.oid_sensitive;
    columns.set(key, entry);
  }
  const out = new Map<string, CopyColumns>();
  for (const [key, { names, text }] of columns) out.set(key, { names, list: names.map(quoteIdent).join(', '), format: text ? 'text' : 'binary' });
  return out;
}
