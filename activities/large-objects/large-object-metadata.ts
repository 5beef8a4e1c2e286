/**
 * A large object's owner, comment and grants, as pg_dump carries them (ALTER LARGE OBJECT ...
 * OWNER TO, COMMENT ON LARGE OBJECT, GRANT ... ON LARGE OBJECT), read from one server and set
 * on the other. Set by the copy together with each object's bytes, rather than by pre-data's
 * single transaction: each statement locks its object, and thousands of objects in one
 * transaction exhaust the lock table ("out of shared memory"), which is why the copy commits
 * a hundred objects at a time.
 */
import type { Client } from 'pg';
import { quoteIdent, quoteLiteral } from '../db';

export interface LargeObjectMetadata {
  owner: string;
  /** The ACL as text, or null for the default (the owner's rights only). */
  acl: string | null;
  comment: string | null;
}

/** Metadata of the objects with firstOid <= oid <= lastOid. */
export async function readMetadata(client: Client, firstOid: number, lastOid: number): Promise<Map<number, LargeObjectMetadata>> {
  const { rows } = await client.query<LargeObjectMetadata & { oid: string }>(
    `SELECT m.oid::int8 AS oid, pg_catalog.pg_get_userbyid(m.lomowner) AS owner, m.lomacl::text AS acl,
            pg_catalog.obj_description(m.oid, 'pg_largeobject') AS comment
       FROM pg_catalog.pg_largeobject_metadata m
      WHERE m.oid >= $1::int8::oid AND m.oid <= $2::int8::oid`,
    [firstOid, lastOid],
  );
  return new Map(rows.map((r) => [Number(r.oid), { owner: r.owner, acl: r.acl, comment: r.comment }]));
}

/** What an object created just now by the target's user has. */
export async function freshMetadata(client: Client): Promise<LargeObjectMetadata> {
  const { rows } = await client.query<{ owner: string }>('SELECT current_user AS owner');
  return { owner: rows[0].owner, acl: null, comment: null };
}

/**
 * Statements that give the target's object the source's metadata (none when equal). Without
 * `keepOwnership` (roles missing on the target) owners and grants stay as they are, as
 * pg_restore --no-owner --no-privileges would leave them.
 */
export async function metadataStatements(src: Client, tgt: Client, oid: number, source: LargeObjectMetadata, target: LargeObjectMetadata, keepOwnership: boolean): Promise<string[]> {
  const statements: string[] = [];
  if (keepOwnership && source.owner !== target.owner) statements.push(`ALTER LARGE OBJECT ${oid} OWNER TO ${quoteIdent(source.owner)}`);
  if (source.comment !== target.comment) statements.push(`COMMENT ON LARGE OBJECT ${oid} IS ${source.comment === null ? 'NULL' : quoteLiteral(source.comment)}`);
  if (keepOwnership && source.acl !== target.acl) statements.push(...(await grantStatements(src, tgt, oid)));
  return statements;
}

/** Revokes what the target grants on the object, then grants what the source does (its default: the owner's rights only). */
async function grantStatements(src: Client, tgt: Client, oid: number): Promise<string[]> {
  const explode = `SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END AS grantee,
                          a.privilege_type AS privilege, a.is_grantable AS grantable
                     FROM pg_catalog.pg_largeobject_metadata m,
                          pg_catalog.aclexplode(coalesce(m.lomacl, pg_catalog.acldefault('L', m.lomowner))) a
                    WHERE m.oid = $1::int8::oid`;
  const { rows: granted } = await src.query<{ grantee: string; privilege: string; grantable: boolean }>(explode, [oid]);
  const { rows: present } = await tgt.query<{ grantee: string }>(explode, [oid]);
  const revokes = [...new Set(['PUBLIC', ...present.map((p) => p.grantee)])].map((g) => `REVOKE ALL ON LARGE OBJECT ${oid} FROM ${g}`);
  const grants = granted.map((g) => `GRANT ${g.privilege} ON LARGE OBJECT ${oid} TO ${g.grantee}${g.grantable ? ' WITH GRANT OPTION' : ''}`);
  return [...revokes, ...grants];
}
