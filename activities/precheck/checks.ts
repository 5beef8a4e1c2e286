/**
 * Precheck items about what the source holds and what the target server offers: versions,
 * keys, C functions, extensions, conflicting tables, roles, lock capacity. Each reads the
 * catalogs and returns pass / warning / fail with a sentence saying what to do.
 */
import type { Client } from 'pg';
import { displayName, type CheckItem } from '../../common/plan';
import { fail, listSome, note, pass, warn, warnIf } from './items';
import { USER_TABLES_SQL } from '../copy/list-tables';
import { missingRoles } from '../schema/roles';

type Table = { schema: string; name: string };


export async function serverVersion(client: Client): Promise<{ num: number; text: string }> {
  const { rows } = await client.query<{ num: string; text: string }>(
    "SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS text",
  );
  return { num: Number(rows[0].num), text: rows[0].text };
}

export async function checkVersions(src: Client, tgt: Client, pgDumpMajor: number): Promise<CheckItem[]> {
  const s = await serverVersion(src);
  const t = await serverVersion(tgt);
  const sMajor = Math.floor(s.num / 10000);
  const tMajor = Math.floor(t.num / 10000);
  const items: CheckItem[] = [];
  items.push(
    tMajor >= sMajor
      ? pass('server-versions', `Source runs PostgreSQL ${s.text}, target ${t.text}.`)
      : fail('server-versions', `Target PostgreSQL ${t.text} is older than source ${s.text}.`, 'Migrate into a target of the same or a newer major version.'),
  );
  items.push(
    pgDumpMajor >= sMajor
      ? pass('pg-dump-version', `The worker's pg_dump ${pgDumpMajor} can dump source version ${sMajor}.`)
      : fail('pg-dump-version', `The worker's pg_dump ${pgDumpMajor} is older than the source (${sMajor}).`, `Install PostgreSQL ${sMajor} client programs on the worker (or set PGFERRY_PG_BIN).`),
  );
  return items;
}

/**
 * `only`: the selected tables (objects), by display name; default every table. A note: a copy
 * of a keyless table is exact (as pg_dump's), and where a key matters it is checked where it
 * matters (replica-identity for a stream, target-conflicts for conflicts: ignore).
 */
export async function checkKeys(src: Client, only?: Set<string>): Promise<CheckItem> {
  const { rows: all } = await src.query<Table>(
    `SELECT t.schema, t.name FROM (${USER_TABLES_SQL}) t
      WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i
                         WHERE i.indrelid = pg_catalog.format('%I.%I', t.schema, t.name)::regclass
                           AND (i.indisprimary OR i.indisunique))`,
  );
  const names = all.map(displayName).filter((n) => !only || only.has(n));
  return names.length
    ? note('tables-without-key', `${names.length} table(s) have no primary key or unique constraint: ${listSome(names)}.`, 'They are copied whole and validated by count or checksum; add a primary key if you can, since duplicates cannot be told apart.')
    : pass('tables-without-key', 'Every table has a primary key or unique constraint.');
}

/** A risk only with `schema` (pre-data creates them); without, nothing creates them. */
export async function checkCFunctions(src: Client, withSchema: boolean): Promise<CheckItem> {
  const { rows } = await src.query<{ name: string }>(
    `SELECT pg_catalog.format('%I.%I', n.nspname, p.proname) AS name
       FROM pg_catalog.pg_proc p
       JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
       JOIN pg_catalog.pg_language l ON l.oid = p.prolang
      WHERE l.lanname = 'c' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')`,
  );
  const names = rows.map((r) => r.name);
  return names.length
    ? warnIf(withSchema, 'c-functions', `${names.length} C-language function(s) outside extensions: ${listSome(names)}.`, withSchema ? 'They are migrated only if their shared library is installed on the target server; install it first, or the pre-data step fails.' : 'Without schema in the types they are not created; the target needs them only if its tables use them.')
    : pass('c-functions', 'No C-language functions outside extensions.');
}

export async function checkExtensions(src: Client, tgt: Client): Promise<CheckItem> {
  const { rows } = await src.query<{ extname: string; extversion: string }>(
    "SELECT extname, extversion FROM pg_catalog.pg_extension WHERE extname <> 'plpgsql' ORDER BY 1",
  );
  if (!rows.length) return pass('extensions', 'The source uses no extensions besides plpgsql.');
  const available = await tgt.query<{ name: string }>('SELECT name FROM pg_catalog.pg_available_extensions WHERE name = ANY($1)', [rows.map((r) => r.extname)]);
  const have = new Set(available.rows.map((r) => r.name));
  const missing = rows.filter((r) => !have.has(r.extname)).map((r) => r.extname);
  return missing.length
    ? fail('extensions', `Extension(s) used on the source are not available on the target: ${listSome(missing)}.`, 'Install their packages on the target server (they must appear in pg_available_extensions), then run again.')
    : pass('extensions', `Extensions used on the source are available on the target: ${listSome(rows.map((r) => r.extname))}.`);
}

export async function findConflicts(src: Client, tgt: Client): Promise<Table[]> {
  const { rows: sourceTables } = await src.query<Table>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname !~ '^pg_' AND n.nspname NOT IN ('information_schema', '_pgferry')`,
  );
  if (!sourceTables.length) return [];
  const { rows } = await tgt.query<Table>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       JOIN unnest($1::text[], $2::text[]) AS s(schema, name) ON s.schema = n.nspname AND s.name = c.relname
      WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')`,
    [sourceTables.map((t) => t.schema), sourceTables.map((t) => t.name)],
  );
  return rows;
}

export function conflictItem(conflicts: Table[], mode: 'error' | 'ignore'): CheckItem {
  const names = conflicts.map(displayName);
  if (!names.length) return pass('target-conflicts', 'No table to be created exists in the target yet.');
  if (mode === 'ignore') {
    return warn('target-conflicts', `${names.length} table(s) already exist in the target: ${listSome(names)}.`, 'conflicts: ignore keeps them as they are and adds the source rows whose keys they lack; check that their columns match the source.');
  }
  return fail('target-conflicts', `${names.length} table(s) already exist in the target: ${listSome(names)}.`, 'Drop them, migrate into an empty database, or set conflicts: ignore to keep them and add the missing rows.');
}

/** A risk only with `schema`: what pre-data creates loses its owners and grants. */
export async function checkRoles(src: Client, tgt: Client, withSchema: boolean): Promise<{ item: CheckItem; keepOwnership: boolean }> {
  const missing = await missingRoles(src, tgt);
  if (!missing.length) return { item: pass('roles', 'Every role that owns or is granted objects on the source exists on the target.'), keepOwnership: true };
  return {
    item: withSchema
      ? warn('roles', `Role(s) missing on the target: ${listSome(missing)}.`, 'Objects will be owned by the target user and grants will be skipped; create these roles on the target first to keep ownership and privileges.')
      : note('roles', `Role(s) missing on the target: ${listSome(missing)}.`, 'Without schema in the types pgferry creates no object, so no owner or grant is lost; nothing to do for this migration.'),
    keepOwnership: false,
  };
}

/**
 * pg_dump (the schema dump) locks every table it dumps in one transaction, on the source. The
 * lock table holds max_locks_per_transaction × (max_connections + max_prepared_transactions)
 * locks by PostgreSQL's formula, and borrows shared memory that other tables leave unused: on
 * PostgreSQL 15 with the defaults (6,400 by the formula) a pg_dump of 10,000 tables went
 * through and one of 50,000 failed at the 12,486th ("out of shared memory"). So 1.8 × the
 * formula, leaving room for other sessions, is where the dump is likely to fail. The target
 * needs no such room: pre-data commits in batches that fit its lock table (transaction-split.ts).
 */
const LOCK_TABLE_REACH = 1.8;

export async function checkLockCapacity(src: Client): Promise<CheckItem> {
  const { rows } = await src.query<{ n: string; per: string; cap: string }>(
    `SELECT (SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p', 'f') AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema') AS n,
            current_setting('max_locks_per_transaction') AS per,
            current_setting('max_locks_per_transaction')::int * (current_setting('max_connections')::int + current_setting('max_prepared_transactions')::int) AS cap`,
  );
  const tables = Number(rows[0].n);
  const reach = Math.floor(Number(rows[0].cap) * LOCK_TABLE_REACH);
  if (tables <= reach) return pass('lock-capacity', `The schema dump locks ${tables} tables at once; the source's lock table reaches about ${reach}.`);
  const per = Math.ceil((Number(rows[0].per) * tables * 1.2) / reach);
  return warn(
    'lock-capacity',
    `The schema dump (pg_dump) locks ${tables} tables at once, more than the source's lock table is likely to hold (about ${reach} with max_locks_per_transaction ${rows[0].per}): it may fail with "out of shared memory".`,
    `Set max_locks_per_transaction to at least ${per} on the source and restart it, or migrate the tables in several migrations (objects.include).`,
  );
}
