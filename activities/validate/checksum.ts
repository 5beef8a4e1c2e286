/**
 * An order-independent checksum of a table's rows: the sum of a 64-bit hash of each row's text
 * form. Equal multisets of rows give equal sums on servers of the same major version, whatever
 * the physical order, so source and target can be compared without sorting.
 */
import type { Client } from 'pg';
import { qualified } from '../db';

export function checksumSql(table: { schema: string; name: string }): string {
  return `SELECT count(*)::text || ':' || coalesce(sum(pg_catalog.hashtextextended(t::text, 0)::numeric), 0)::text AS checksum
            FROM ONLY ${qualified(table)} AS t`;
}

export async function sourceChecksum(client: Client, table: { schema: string; name: string }): Promise<string> {
  const { rows } = await client.query<{ checksum: string }>(checksumSql(table));
  return rows[0].checksum;
}
