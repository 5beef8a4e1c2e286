/**
 * SQL over large objects, shared by the listing, the copy, the validation and the cutover.
 * Everything goes through the server-side large-object functions (lo_open, lo_get, lo_put...),
 * which check the large-object privileges and read under the transaction's snapshot;
 * pg_largeobject itself is readable by superusers only.
 * https://www.postgresql.org/docs/15/lo-funcs.html
 */
import type { Client } from 'pg';

/** lo_open modes (libpq's INV_READ / INV_WRITE). */
export const INV_READ = 0x40000;
export const INV_WRITE = 0x20000;

/** Bytes read and written per round trip, and the unit of the object checksum (object-checksum.ts). */
export const PIECE_BYTES = 1 << 20;

/**
 * Every object's size in an oid range, in oid order: lo_lseek64 to the end of a descriptor
 * opened for reading (so under the transaction's snapshot), closed again at once. OFFSET 0 keeps
 * the planner from flattening the subquery, which would call lo_open once per use of `fd`.
 */
export const SIZES_SQL = `
SELECT s.oid::int8 AS oid, pg_catalog.lo_lseek64(s.fd, 0, 2) AS size, pg_catalog.lo_close(s.fd) AS closed
  FROM (SELECT m.oid, pg_catalog.lo_open(m.oid, ${INV_READ}) AS fd
          FROM pg_catalog.pg_largeobject_metadata m
         WHERE m.oid >= $1::int8::oid AND m.oid <= $2::int8::oid
         ORDER BY m.oid LIMIT $3 OFFSET 0) s
 ORDER BY 1`;

/** Rows per SIZES_SQL page: a database may hold millions of large objects. */
const SIZES_PAGE = 50_000;

export interface ObjectSize {
  oid: number;
  size: number;
}

/** Sizes of the objects with firstOid <= oid <= lastOid, read page by page in oid order. */
export async function readSizes(client: Client, firstOid: number, lastOid: number, onPage: (page: ObjectSize[]) => void | Promise<void>): Promise<void> {
  let from = firstOid;
  for (;;) {
    const { rows } = await client.query<{ oid: string; size: string }>(SIZES_SQL, [from, lastOid, SIZES_PAGE]);
    if (!rows.length) return;
    await onPage(rows.map((r) => ({ oid: Number(r.oid), size: Number(r.size) })));
    const last = Number(rows[rows.length - 1].oid);
    if (rows.length < SIZES_PAGE || last >= lastOid) return;
    from = last + 1;
  }
}

/** Every object's size, for callers that want them all at once (the cutover's comparison). */
export async function allSizes(client: Client): Promise<Map<number, number>> {
  const sizes = new Map<number, number>();
  await readSizes(client, 0, 4294967295, (page) => page.forEach((o) => sizes.set(o.oid, o.size)));
  return sizes;
}

/**
 * Large objects the current user cannot read (PostgreSQL 15 has no has_largeobject_privilege):
 * neither owned by a role whose privileges it has, nor granted SELECT to it or PUBLIC.
 */
export const UNREADABLE_SQL = `
SELECT m.oid::int8 AS oid
  FROM pg_catalog.pg_largeobject_metadata m
 WHERE current_setting('lo_compat_privileges') = 'off'
   AND NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user)
   AND NOT pg_catalog.pg_has_role(m.lomowner, 'USAGE')
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.aclexplode(m.lomacl) a
                    WHERE a.privilege_type = 'SELECT' AND (a.grantee = 0 OR pg_catalog.pg_has_role(a.grantee, 'USAGE')))
 ORDER BY 1`;

/** One piece of an object as the source holds it (under the transaction's snapshot), with its md5 when asked. */
export async function readPiece(client: Client, oid: number, offset: number, length: number, withMd5: boolean): Promise<{ data: Buffer; md5?: string }> {
  const { rows } = await client.query<{ data: Buffer; md5?: string }>(
    `SELECT d AS data${withMd5 ? ', pg_catalog.md5(d) AS md5' : ''} FROM pg_catalog.lo_get($1::int8::oid, $2::int8, $3::int4) AS d`,
    [oid, offset, length],
  );
  return rows[0];
}

/** Creates the object in the target when missing, and cuts it to `length` bytes (0: empty). */
export async function prepareTargetObject(client: Client, oid: number, length: number): Promise<void> {
  await client.query(
    'SELECT pg_catalog.lo_create($1::int8::oid) WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_largeobject_metadata WHERE oid = $1::int8::oid)',
    [oid],
  );
  // The lateral subquery runs between lo_open and lo_close (OFFSET 0: not flattened away).
  await client.query(
    `SELECT pg_catalog.lo_close(s.fd)
       FROM (SELECT pg_catalog.lo_open($1::int8::oid, ${INV_WRITE}) AS fd OFFSET 0) s,
            LATERAL (SELECT pg_catalog.lo_truncate64(s.fd, $2::int8) OFFSET 0) t`,
    [oid, length],
  );
}

/** Writes a piece at `offset` (a Buffer parameter goes over the wire in binary). */
export async function writePiece(client: Client, oid: number, offset: number, data: Buffer): Promise<void> {
  await client.query('SELECT pg_catalog.lo_put($1::int8::oid, $2::int8, $3::bytea)', [oid, offset, data]);
}
