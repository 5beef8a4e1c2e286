/**
 * An order-independent checksum of a table's rows: the sum of a 64-bit hash of each row's text
 * form. Equal multisets of rows give equal sums on servers of the same major version, whatever
 * the physical order, so source and target can be compared without sorting.
 */
import type { Client } from 'pg';
import { qualified } from '../db';

/** Which rows and columns count: a selection's subset on the source side (default: the whole row, every row). */
export interface RowScope {
  /** Quoted column list, in table order. */
  columns?: string;
  where?: string;
}

export function checksumSql(table: { schema: string; name: string }, scope: RowScope = {}): string {
  const row = scope.columns ? `ROW(${scope.columns})` : 't';
  return `SELECT count(*)::text || ':' || coalesce(sum(pg_catalog.hashtextextended(${row}::text, 0)::numeric), 0)::text AS checksum
            FROM ONLY ${qualified(table)} AS t${scope.where ? ` WHERE (${scope.where})` : ''}`;
}

export async function sourceChecksum(client: Client, table: { schema: string; name: string }, scope: RowScope = {}): Promise<string> {
  const { rows } = await client.query<{ checksum: string }>(checksumSql(table, scope));
  return rows[0].checksum;
}
