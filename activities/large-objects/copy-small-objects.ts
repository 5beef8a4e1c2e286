/**
 * Small large objects, many per round trip: one read of all their bytes on the source (under
 * the snapshot) and one `lo_from_bytea` per object in a single statement on the target. A
 * legacy database may hold millions of objects of a few kB, where a round trip or five per
 * object would cost more than their bytes. Only for objects the target does not have yet.
 */
import type { Client } from 'pg';
import { chainPiece } from './object-checksum';
import type { ObjectSize } from './large-object-sql';

/** Objects up to this size go in groups (one piece each for the checksum: below PIECE_BYTES). */
export const SMALL_OBJECT_BYTES = 256 * 1024;
/** A group is at most this many objects or bytes. */
export const GROUP_OBJECTS = 100;
export const GROUP_BYTES = 4 * 1024 * 1024;

export interface CopiedObject {
  oid: number;
  size: number;
  /** The checksum chain (object-checksum.ts): one piece, or none for an empty object. */
  chain: string;
}

export async function copySmallObjects(src: Client, tgt: Client, objects: ObjectSize[], withMd5: boolean): Promise<CopiedObject[]> {
  const oids = objects.map((o) => o.oid);
  const { rows } = await src.query<{ oid: string; data: Buffer; md5?: string }>(
    `SELECT x.o AS oid, d AS data${withMd5 ? ', pg_catalog.md5(d) AS md5' : ''}
       FROM unnest($1::int8[]) WITH ORDINALITY AS x(o, n), LATERAL pg_catalog.lo_get(x.o::oid) AS d ORDER BY x.n`,
    [oids],
  );
  const copied = objects.map((o, i) => {
    const row = rows[i];
    // Listed under the same snapshot: a different size would be a bug, not a change.
    if (Number(row.oid) !== o.oid || row.data.length !== o.size) throw new Error(`large object ${o.oid}: read ${row.data.length} bytes, listed ${o.size}`);
    return { oid: o.oid, size: o.size, chain: withMd5 && o.size > 0 ? chainPiece('', row.md5!) : '' };
  });
  await tgt.query('SELECT count(pg_catalog.lo_from_bytea(o::oid, d)) FROM unnest($1::int8[], $2::bytea[]) AS x(o, d)', [oids, rows.map((r) => r.data)]);
  return copied;
}
