/**
 * Materialized views are filled on the target once everything else of the schema is there.
 *
 * The schema dump is taken with `--schema-only`: with `--section=pre-data --section=post-data`
 * pg_dump also reads every sequence's value, locking each sequence until it ends, and on a
 * source of 10,000 tables with serial keys those 20,000 locks exceed a default lock table
 * ("out of shared memory"). `--schema-only` reads no data, so its dump has no MATERIALIZED VIEW
 * DATA entries (the REFRESH statements): they are run here instead, in the dump's order (a
 * materialized view comes after those it reads), for the views populated on the source. One
 * already populated on the target (a retry, or a dump from before that had the entries) is
 * left alone.
 */
import type { Client } from 'pg';
import { qualified } from '../db';
import type { TocEntry } from './existing-objects';

export async function refreshMaterializedViews(entries: TocEntry[], src: Client, tgt: Client): Promise<number> {
  const views = entries.filter((e) => e.desc.startsWith('MATERIALIZED VIEW ') && !e.desc.startsWith('MATERIALIZED VIEW DATA '));
  if (!views.length) return 0;
  const { rows: populated } = await src.query<{ oid: number; schema: string; name: string }>(
    `SELECT c.oid, n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = ANY($1::oid[]) AND c.relkind = 'm' AND c.relispopulated`,
    [views.map((v) => v.objectId)],
  );
  const byOid = new Map(populated.map((r) => [Number(r.oid), r]));
  let refreshed = 0;
  for (const view of views) {
    const source = byOid.get(view.objectId);
    if (!source) continue;
    const { rows } = await tgt.query<{ empty: boolean }>(
      `SELECT NOT c.relispopulated AS empty FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'm'`,
      [source.schema, source.name],
    );
    if (!rows[0]?.empty) continue; // populated already, or not migrated
    await tgt.query(`REFRESH MATERIALIZED VIEW ${qualified(source)}`);
    refreshed += 1;
  }
  return refreshed;
}
