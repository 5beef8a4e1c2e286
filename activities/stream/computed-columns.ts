/**
 * A column added with a volatile default (`ADD COLUMN stamp timestamptz DEFAULT clock_timestamp()`)
 * makes PostgreSQL rewrite the table and compute the default for every existing row: the
 * target computes its own values, and logical decoding does not carry the rewrite. So after
 * such a DDL the new columns' values are copied from the source by key (its current values:
 * any later change to a row comes through the stream with the whole row, so they converge).
 */
import type { Client } from 'pg';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { qualified, quoteIdent } from '../db';

type Table = { schema: string; name: string };

/** The target table's column names; undefined when it has no such table (yet: a rename brings it). */
export async function columnNames(target: Client, table: Table): Promise<Set<string> | undefined> {
  const { rows } = await target.query<{ name: string | null }>(
    `SELECT a.attname AS name FROM (SELECT pg_catalog.to_regclass(pg_catalog.format('%I.%I', $1::text, $2::text)) AS rel) r
       LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = r.rel AND a.attnum > 0 AND NOT a.attisdropped`,
    [table.schema, table.name],
  );
  return rows.length === 1 && rows[0].name === null ? undefined : new Set(rows.map((r) => r.name!));
}

/**
 * New columns (not in `before`) whose default was computed row by row: they have a default
 * but no "missing value" (a non-volatile default is stored once and read for the old rows).
 */
export async function computedNewColumns(target: Client, table: Table, before: Set<string>): Promise<string[]> {
  const { rows } = await target.query<{ name: string }>(
    `SELECT a.attname AS name FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = pg_catalog.format('%I.%I', $1::text, $2::text)::regclass AND a.attnum > 0 AND NOT a.attisdropped
        AND NOT a.atthasmissing AND a.attgenerated = '' ORDER BY a.attnum`,
    [table.schema, table.name],
  );
  return rows.map((r) => r.name).filter((n) => !before.has(n));
}

/** Sets the target's `columns` to the source's values, row by row through the primary key. Returns the rows updated. */
export async function copyColumnValues(source: Client, target: Client, from: Table, to: Table, columns: string[]): Promise<number> {
  const { rows: keys } = await target.query<{ name: string }>(
    `SELECT a.attname AS name FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
      WHERE i.indrelid = pg_catalog.format('%I.%I', $1::text, $2::text)::regclass AND i.indisprimary`,
    [to.schema, to.name],
  );
  if (!keys.length) throw new Error(`${to.schema}.${to.name} has no primary key to match the rows of its new columns ${columns.join(', ')} with the source's`);
  const list = [...keys.map((k) => k.name), ...columns].map(quoteIdent).join(', ');
  await target.query(`CREATE TEMP TABLE pgferry_computed ON COMMIT DROP AS SELECT ${list} FROM ${qualified(to)} WITH NO DATA`);
  await pipeline(source.query(copyTo(`COPY (SELECT ${list} FROM ${qualified(from)}) TO STDOUT`)), target.query(copyFrom(`COPY pgferry_computed (${list}) FROM STDIN`)));
  const set = columns.map((c) => `${quoteIdent(c)} = s.${quoteIdent(c)}`).join(', ');
  const on = keys.map((k) => `t.${quoteIdent(k.name)} = s.${quoteIdent(k.name)}`).join(' AND ');
  const updated = await target.query(`UPDATE ${qualified(to)} t SET ${set} FROM pgferry_computed s WHERE ${on}`);
  await target.query('DROP TABLE pgferry_computed');
  return updated.rowCount ?? 0;
}
