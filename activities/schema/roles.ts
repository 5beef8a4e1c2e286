/**
 * Ownership and privileges can only be restored when the target knows the same roles. When it
 * lacks some, the schema is restored with --no-owner --no-privileges (everything then belongs
 * to the target user) and the precheck says so.
 */
import type { Client } from 'pg';

const REFERENCED_ROLES_SQL = `
WITH user_ns AS (
  SELECT oid, nspowner, nspacl FROM pg_catalog.pg_namespace
   WHERE nspname !~ '^pg_' AND nspname NOT IN ('information_schema', '_pgferry')
), refs AS (
  SELECT nspowner AS role FROM user_ns
  UNION SELECT (pg_catalog.aclexplode(nspacl)).grantee FROM user_ns WHERE nspacl IS NOT NULL
  UNION SELECT relowner FROM pg_catalog.pg_class WHERE relnamespace IN (SELECT oid FROM user_ns)
  UNION SELECT (pg_catalog.aclexplode(relacl)).grantee FROM pg_catalog.pg_class WHERE relnamespace IN (SELECT oid FROM user_ns) AND relacl IS NOT NULL
  UNION SELECT proowner FROM pg_catalog.pg_proc WHERE pronamespace IN (SELECT oid FROM user_ns)
  UNION SELECT typowner FROM pg_catalog.pg_type WHERE typnamespace IN (SELECT oid FROM user_ns)
)
SELECT DISTINCT r.rolname FROM refs JOIN pg_catalog.pg_roles r ON r.oid = refs.role ORDER BY 1`;

export async function referencedRoles(source: Client): Promise<string[]> {
  const { rows } = await source.query<{ rolname: string }>(REFERENCED_ROLES_SQL);
  return rows.map((r) => r.rolname);
}

/** Roles that own or are granted something on the source but do not exist on the target. */
export async function missingRoles(source: Client, target: Client): Promise<string[]> {
  const wanted = await referencedRoles(source);
  if (!wanted.length) return [];
  const { rows } = await target.query<{ rolname: string }>('SELECT rolname FROM pg_catalog.pg_roles WHERE rolname = ANY($1)', [wanted]);
  const present = new Set(rows.map((r) => r.rolname));
  return wanted.filter((r) => !present.has(r));
}
