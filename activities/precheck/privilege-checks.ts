/**
 * Privileges per migration type. Source: SELECT on every table and sequence (all types read
 * them). schema: the target user creates schemas and objects in the target database. full:
 * tables that exist in the target before the migration (all of them without schema, the
 * conflicting ones with conflicts: ignore) are written by the target user, not owned by it.
 */
import type { Client } from 'pg';
import { displayName } from '../../common/plan';
import type { CheckItem } from '../../common/precheck';
import { USER_TABLES_SQL } from '../copy/list-tables';
import { fail, listSome, pass } from './items';

type Table = { schema: string; name: string };

export async function checkSourcePrivileges(src: Client): Promise<CheckItem> {
  const { rows } = await src.query<Table>(
    `SELECT t.schema, t.name FROM (${USER_TABLES_SQL}) t
      WHERE NOT pg_catalog.has_table_privilege(pg_catalog.format('%I.%I', t.schema, t.name), 'SELECT')`,
  );
  const seq = await src.query<Table>(
    `SELECT schemaname AS schema, sequencename AS name FROM pg_catalog.pg_sequences
      WHERE schemaname !~ '^pg_' AND NOT pg_catalog.has_sequence_privilege(pg_catalog.format('%I.%I', schemaname, sequencename), 'SELECT')`,
  );
  const denied = [...rows, ...seq.rows].map(displayName);
  return denied.length
    ? fail('source-privileges', `The source user cannot read ${denied.length} table(s) or sequence(s): ${listSome(denied)}.`, 'GRANT SELECT on them (or use a role with pg_read_all_data) and run again.')
    : pass('source-privileges', 'The source user can read every table and sequence.');
}

/** schema: CREATE in the target database, and a superuser for what only a superuser may create. */
export async function checkTargetPrivileges(src: Client, tgt: Client, opts: { withSchema: boolean; targetExists: boolean }): Promise<CheckItem> {
  if (!opts.withSchema) return pass('target-privileges', 'No schema is created on the target (types without schema).');
  if (!opts.targetExists) return pass('target-privileges', 'The target user will own the new database, so it may create schemas and objects in it.');
  const { rows } = await tgt.query<{ can_create: boolean; superuser: boolean }>(
    `SELECT pg_catalog.has_database_privilege(pg_catalog.current_database(), 'CREATE') AS can_create,
            (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) AS superuser`,
  );
  const { can_create, superuser } = rows[0];
  if (superuser) return pass('target-privileges', 'The target user is a superuser.');
  if (!can_create) {
    return fail('target-privileges', 'The target user may not create schemas in the target database.', 'GRANT CREATE ON DATABASE to the target user, or make it the database owner.');
  }
  const needs = await superuserOnlyObjects(src, tgt);
  return needs.length
    ? fail('target-privileges', `The target user is not a superuser, and the source has objects only a superuser may create: ${listSome(needs)}.`, 'Run the migration with a superuser on the target, or install these extensions there first (pre-data would fail on them).')
    : pass('target-privileges', 'The target user may create schemas; nothing on the source needs a superuser.');
}

/** Event triggers, and extensions the target lacks that only a superuser may create there. */
async function superuserOnlyObjects(src: Client, tgt: Client): Promise<string[]> {
  const triggers = await src.query<{ name: string }>("SELECT 'event trigger ' || evtname AS name FROM pg_catalog.pg_event_trigger WHERE evtname !~ '^pgferry_.*_ddl_(start|end|drop)$' ORDER BY 1");
  const { rows: extensions } = await src.query<{ extname: string }>("SELECT extname FROM pg_catalog.pg_extension WHERE extname <> 'plpgsql'");
  if (!extensions.length) return triggers.rows.map((r) => r.name);
  // pg_dump restores extensions with CREATE EXTENSION IF NOT EXISTS: those already there are fine.
  const untrusted = await tgt.query<{ name: string }>(
    `SELECT DISTINCT 'extension ' || v.name AS name FROM pg_catalog.pg_available_extension_versions v
      WHERE v.name = ANY($1) AND v.superuser AND NOT v.trusted
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension e WHERE e.extname = v.name) ORDER BY 1`,
    [extensions.map((e) => e.extname)],
  );
  return [...triggers.rows, ...untrusted.rows].map((r) => r.name);
}

export interface TablePrivilegeOptions {
  /** With an objects section: the target names of the selected tables (instead of every source table). */
  selectedTargets?: Table[];
  withSchema: boolean;
  withData: boolean;
  targetExists: boolean;
  /** Tables that exist on both sides (only written into with conflicts: ignore). */
  keptTables: Table[];
}

/** full: INSERT and SELECT (validation) on tables that exist before, and TRUNCATE without schema. */
export async function checkTargetTablePrivileges(src: Client, tgt: Client, opts: TablePrivilegeOptions): Promise<CheckItem> {
  const id = 'target-table-privileges';
  if (!opts.withData) return pass(id, 'No rows are copied (types without full).');
  if (!opts.withSchema && !opts.targetExists) {
    return fail(id, 'Without schema in types the rows go into existing tables, but the target database does not exist.', 'Create the schema on the target first, or add schema to types.');
  }
  const tables = opts.withSchema ? opts.keptTables : (opts.selectedTargets ?? (await src.query<Table>(`SELECT t.schema, t.name FROM (${USER_TABLES_SQL}) t`)).rows);
  if (!tables.length) return pass(id, 'Every table is created by the migration and owned by the target user.');
  const { rows } = await tgt.query<Table & { present: boolean; allowed: boolean }>(
    `SELECT s.schema, s.name, c.oid IS NOT NULL AS present,
            coalesce(pg_catalog.has_table_privilege(c.oid, 'INSERT') AND pg_catalog.has_table_privilege(c.oid, 'SELECT')
                     AND ($3 OR pg_catalog.has_table_privilege(c.oid, 'TRUNCATE')), false) AS allowed
       FROM unnest($1::text[], $2::text[]) AS s(schema, name)
       LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = s.schema
       LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = s.name AND c.relkind IN ('r', 'p')
      ORDER BY 1, 2`,
    [tables.map((t) => t.schema), tables.map((t) => t.name), opts.withSchema],
  );
  const missing = rows.filter((r) => !r.present).map(displayName);
  if (missing.length) {
    return fail(id, `${missing.length} source table(s) do not exist in the target: ${listSome(missing)}.`, 'Without schema in types the rows go into existing tables: create them first, or add schema to types.');
  }
  const denied = rows.filter((r) => !r.allowed).map(displayName);
  const needed = opts.withSchema ? 'INSERT, SELECT' : 'INSERT, SELECT, TRUNCATE';
  return denied.length
    ? fail(id, `The target user lacks ${needed} on ${denied.length} existing table(s): ${listSome(denied)}.`, `GRANT ${needed} ON them TO the target user, and run again.`)
    : pass(id, `The target user may write the ${rows.length} table(s) that exist in the target (${needed}).`);
}
