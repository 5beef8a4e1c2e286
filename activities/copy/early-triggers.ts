/**
 * Triggers created by the copy, right after its rows are in, instead of by post-data after the
 * last copy.
 *
 * pg_dump puts triggers in post-data: on the benchmark's big database one trigger was all that
 * post-data had left to restore once the copies had built the indexes and foreign keys, and
 * restoring it (pg_restore, its session, the statement) took 0.4-0.8 s at the end of the
 * migration, beside the row counts. A copy unit that copied a table whole creates its triggers
 * in its own transaction, after the rows (COPY would fire an insert trigger for each of them),
 * the indexes and the foreign keys, as post-data would. Post-data skips what exists
 * (schema/existing-objects.ts).
 *
 * Only the triggers pg_get_triggerdef states whole are created here: enabled as triggers are by
 * default, not constraint triggers, not clones of a partitioned table's trigger. pg_dump writes
 * the others with more than one statement (ALTER TABLE ... DISABLE TRIGGER, ENABLE REPLICA
 * TRIGGER), and post-data restores them as before. Each is tried in a savepoint: one that fails
 * (a column the migration leaves out) is left to post-data, which restores, leaves out or reports
 * it as it always did.
 *
 * A table copied again (its unit was recorded under a lost snapshot) first drops the triggers an
 * earlier unit created (dropStatements): its TRUNCATE and COPY would fire them.
 */
import type { Client } from 'pg';
import { qualified, quoteIdent } from '../db';
import { tryEach } from './try-each';

type TableName = { schema: string; name: string };

export interface Trigger {
  table: TableName;
  name: string;
  /** The statement pg_dump would write. */
  sql: string;
}

/** The triggers of `tables` that the copy creates, read from the source under its snapshot. */
export async function readTriggers(source: Client, tables: TableName[]): Promise<Trigger[]> {
  if (!tables.length) return [];
  await source.query('SET LOCAL search_path = pg_catalog, pg_temp'); // names come out schema-qualified
  const { rows } = await source.query<{ name: string; def: string; schema: string; table: string }>(
    `SELECT t.tgname AS name, pg_catalog.pg_get_triggerdef(t.oid) AS def, n.nspname AS schema, c.relname AS table
       FROM pg_catalog.pg_trigger t
       JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE t.tgrelid = ANY($1::regclass[]) AND NOT t.tgisinternal AND t.tgenabled = 'O' AND t.tgconstraint = 0
        -- tgparentid (PostgreSQL 13+) through to_jsonb: an older source has no such column
        AND coalesce((pg_catalog.to_jsonb(t)->>'tgparentid')::oid, 0) = 0
      ORDER BY n.nspname, c.relname, t.tgname`,
    [tables.map(qualified)],
  );
  return rows.map((r) => ({ table: { schema: r.schema, name: r.table }, name: r.name, sql: r.def }));
}

/**
 * Creates `triggers` in the unit's open transaction, each in a savepoint: one that fails is
 * rolled back and left to post-data. No other unit locks this unit's tables before it commits
 * (foreign keys are added only towards committed tables), so nothing waits here.
 */
export async function addTriggers(target: Client, triggers: Trigger[]): Promise<void> {
  await tryEach(target, triggers.map((t) => t.sql));
}

/**
 * Before a table is copied again: statements dropping the triggers an earlier unit created on it
 * (pre-data creates none; the ones foreign keys make are internal and go with the keys).
 */
export async function dropStatements(target: Client, table: TableName): Promise<string[]> {
  const { rows } = await target.query<{ name: string }>(
    'SELECT t.tgname AS name FROM pg_catalog.pg_trigger t WHERE t.tgrelid = $1::regclass AND NOT t.tgisinternal ORDER BY t.tgname',
    [qualified(table)],
  );
  return rows.map((r) => `DROP TRIGGER IF EXISTS ${quoteIdent(r.name)} ON ${qualified(table)}`);
}
