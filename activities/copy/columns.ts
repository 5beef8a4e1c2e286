/** What a table copy needs to know about a table's columns, read from the source catalog. */
import type { Client } from 'pg';
import { qualified, quoteIdent } from '../db';

export interface CopyColumns {
  /** Quoted, comma-separated list of the columns COPY writes (generated columns excluded). */
  list: string;
  /**
   * Binary COPY embeds type OIDs inside arrays and composite values, and the target's OIDs
   * for user-defined types differ from the source's, so such tables go through text format.
   */
  format: 'binary' | 'text';
}

export async function readCopyColumns(source: Client, table: { schema: string; name: string }): Promise<CopyColumns> {
  const { rows } = await source.query<{ name: string; oid_sensitive: boolean }>(
    `SELECT a.attname AS name,
            (bt.typtype = 'c' OR (bt.typelem <> 0 AND et.oid >= 16384 AND bt.typlen = -1)) AS oid_sensitive
       FROM pg_catalog.pg_attribute a
       JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
       -- a domain's base type decides its wire format
       JOIN pg_catalog.pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
       LEFT JOIN pg_catalog.pg_type et ON et.oid = bt.typelem
      WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
      ORDER BY a.attnum`,
    [qualified(table)],
  );
  return {
    list: rows.map((r) => quoteIdent(r.name)).join(', '),
    format: rows.some((r) => r.oid_sensitive) ? 'text' : 'binary',
  };
}
