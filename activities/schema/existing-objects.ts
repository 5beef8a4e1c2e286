/**
 * Finds post-data objects (indexes, constraints, triggers, rules, policies, statistics) that a
 * previous attempt already created on the target, so a retried post-data step restores only
 * the rest. TOC entries carry the source's catalog OIDs; the source tells their names, and the
 * target is asked for the same names.
 */
import type { Client } from 'pg';
import type { ActivityDeps } from '../deps';
import { startTool } from './run-tool';

export interface TocEntry {
  line: string;
  dumpId: number;
  classId: number;
  objectId: number;
  desc: string;
}

/** A dump's table of contents (`pg_restore -l`), optionally of some sections only. */
export async function readToc(deps: ActivityDeps, dumpFile: string, sections: string[] = []): Promise<TocEntry[]> {
  let listing = '';
  const run = startTool(deps, 'pg_restore', ['-l', ...sections.map((s) => `--section=${s}`), dumpFile], {});
  run.stdout.on('data', (chunk: Buffer) => (listing += chunk.toString('utf8')));
  await run.done;
  return parseToc(listing);
}

/** The whole listing, and which of its entries are post-data (the two read side by side). */
export async function readListing(deps: ActivityDeps, dumpFile: string): Promise<{ all: TocEntry[]; postData: number[] }> {
  const [all, postData] = await Promise.all([readToc(deps, dumpFile), readToc(deps, dumpFile, ['post-data'])]);
  return { all, postData: postData.map((e) => e.dumpId) };
}

export function parseToc(listing: string): TocEntry[] {
  const entries: TocEntry[] = [];
  for (const line of listing.split('\n')) {
    const m = /^(\d+); (\d+) (\d+) (.*)$/.exec(line);
    if (m) entries.push({ line, dumpId: Number(m[1]), classId: Number(m[2]), objectId: Number(m[3]), desc: m[4] });
  }
  return entries;
}

/**
 * Per catalog: the source's names for a list of OIDs (schema, table or NULL, name), and the
 * target's objects of that kind by the same names.
 */
const CATALOGS: Record<number, { source: string; target: string }> = {
  // pg_class: indexes (MATERIALIZED VIEW DATA entries also use pg_class but are refreshes)
  1259: {
    source: `SELECT c.oid, n.nspname AS schema, NULL::text AS tbl, c.relname AS name
               FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE c.oid = ANY($1) AND c.relkind IN ('i', 'I')`,
    target: `SELECT n.nspname AS schema, NULL::text AS tbl, c.relname AS name
               FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('i', 'I')`,
  },
  2606: {
    source: `SELECT k.oid, n.nspname AS schema, c.relname AS tbl, k.conname AS name
               FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE k.oid = ANY($1)`,
    target: `SELECT n.nspname AS schema, c.relname AS tbl, k.conname AS name
               FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace`,
  },
  2620: {
    source: `SELECT t.oid, n.nspname AS schema, c.relname AS tbl, t.tgname AS name
               FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE t.oid = ANY($1)`,
    target: `SELECT n.nspname AS schema, c.relname AS tbl, t.tgname AS name
               FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace`,
  },
  2618: {
    source: `SELECT r.oid, n.nspname AS schema, c.relname AS tbl, r.rulename AS name
               FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE r.oid = ANY($1)`,
    target: `SELECT n.nspname AS schema, c.relname AS tbl, r.rulename AS name
               FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace`,
  },
  3256: {
    source: `SELECT p.oid, n.nspname AS schema, c.relname AS tbl, p.polname AS name
               FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE p.oid = ANY($1)`,
    target: `SELECT n.nspname AS schema, c.relname AS tbl, p.polname AS name
               FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace`,
  },
  3381: {
    source: `SELECT s.oid, n.nspname AS schema, NULL::text AS tbl, s.stxname AS name
               FROM pg_catalog.pg_statistic_ext s JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace WHERE s.oid = ANY($1)`,
    target: `SELECT n.nspname AS schema, NULL::text AS tbl, s.stxname AS name
               FROM pg_catalog.pg_statistic_ext s JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace`,
  },
};

type Named = { schema: string; tbl: string | null; name: string };
const nameKey = (r: Named) => JSON.stringify([r.schema, r.tbl, r.name]);

/** Dump ids of entries whose object already exists on the target (a few queries in all). */
export async function alreadyRestored(entries: TocEntry[], source: Client, target: Client): Promise<Set<number>> {
  const done = new Set<number>();
  for (const [classId, sql] of Object.entries(CATALOGS)) {
    const wanted = entries.filter((e) => e.classId === Number(classId) && !e.desc.startsWith('MATERIALIZED VIEW DATA'));
    if (!wanted.length) continue;
    const { rows: named } = await source.query<Named & { oid: number }>(sql.source, [wanted.map((e) => e.objectId)]);
    const { rows: present } = await target.query<Named>(sql.target);
    const onTarget = new Set(present.map(nameKey));
    const existingOids = new Set(named.filter((r) => onTarget.has(nameKey(r))).map((r) => Number(r.oid)));
    for (const e of wanted) if (existingOids.has(e.objectId)) done.add(e.dumpId);
  }
  return done;
}
