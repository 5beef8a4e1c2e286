/**
 * Finds post-data objects (indexes, constraints, triggers, rules, policies, statistics) that a
 * previous attempt already created on the target, so a retried post-data step restores only
 * the rest. TOC entries carry the source's catalog OIDs; the source tells their names, and the
 * target is asked for the same names.
 */
import type { Client } from 'pg';

export interface TocEntry {
  line: string;
  dumpId: number;
  classId: number;
  objectId: number;
  desc: string;
}

export function parseToc(listing: string): TocEntry[] {
  const entries: TocEntry[] = [];
  for (const line of listing.split('\n')) {
    const m = /^(\d+); (\d+) (\d+) (.*)$/.exec(line);
    if (m) entries.push({ line, dumpId: Number(m[1]), classId: Number(m[2]), objectId: Number(m[3]), desc: m[4] });
  }
  return entries;
}

/** Source lookup (by OID) returning schema, table and object name, per catalog. */
const SOURCE_LOOKUP: Record<number, string> = {
  1259: `SELECT n.nspname AS schema, NULL::text AS tbl, c.relname AS name
           FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1 AND c.relkind IN ('i', 'I')`,
  2606: `SELECT n.nspname AS schema, c.relname AS tbl, k.conname AS name
           FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE k.oid = $1`,
  2620: `SELECT n.nspname AS schema, c.relname AS tbl, t.tgname AS name
           FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE t.oid = $1`,
  2618: `SELECT n.nspname AS schema, c.relname AS tbl, r.rulename AS name
           FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE r.oid = $1`,
  3256: `SELECT n.nspname AS schema, c.relname AS tbl, p.polname AS name
           FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE p.oid = $1`,
  3381: `SELECT n.nspname AS schema, NULL::text AS tbl, s.stxname AS name
           FROM pg_catalog.pg_statistic_ext s JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace WHERE s.oid = $1`,
};

/** Does the target have it? Same parameters: schema, table, name. */
const TARGET_EXISTS: Record<number, string> = {
  1259: `SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relname = $3 AND $2::text IS NULL`,
  2606: `SELECT 1 FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND k.conname = $3`,
  2620: `SELECT 1 FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND t.tgname = $3`,
  2618: `SELECT 1 FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND r.rulename = $3`,
  3256: `SELECT 1 FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND p.polname = $3`,
  3381: `SELECT 1 FROM pg_catalog.pg_statistic_ext s JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace
          WHERE n.nspname = $1 AND s.stxname = $3 AND $2::text IS NULL`,
};

/** Dump ids of entries whose object already exists on the target. */
export async function alreadyRestored(entries: TocEntry[], source: Client, target: Client): Promise<Set<number>> {
  const done = new Set<number>();
  for (const entry of entries) {
    const lookup = SOURCE_LOOKUP[entry.classId];
    if (!lookup || entry.desc.startsWith('MATERIALIZED VIEW DATA')) continue;
    const { rows } = await source.query<{ schema: string; tbl: string | null; name: string }>(lookup, [entry.objectId]);
    if (!rows.length) continue;
    const { schema, tbl, name } = rows[0];
    const found = await target.query(TARGET_EXISTS[entry.classId], [schema, tbl, name]);
    if ((found.rowCount ?? 0) > 0) done.add(entry.dumpId);
  }
  return done;
}
