/**
 * Renames (objects.rename, objects.tables.<t>.rename / columns) applied to the target once its
 * schema is complete: everything is first created under the source's names (pg_dump's SQL
 * names them so), then renamed with ALTER ... RENAME / SET SCHEMA. PostgreSQL tracks views,
 * indexes, foreign keys, sequences, triggers and partitions by OID, so they keep working.
 *
 * One transaction, marked done in the same transaction: all renames or none, and a retry
 * after a lost acknowledgement does nothing. Tables that were in the target before the
 * migration (conflicts: ignore) already carry their target names and are left alone.
 */
import { Context } from '@temporalio/activity';
import type { Client } from 'pg';
import type { ObjectsSpec } from '../../common/objects-spec';
import type { TableSelection } from '../../common/selection';
import { tableKey } from '../../common/plan';
import { closeQuietly, openClient, qualified, quoteIdent, quoteLiteral } from '../db';
import { resolveBoth, type ActivityDeps, type Endpoints } from '../deps';
import { guarded } from '../errors';
import { owningWorkflow } from '../owning-workflow';
import { isStepDone, loadExistingSchemas, markerSql } from '../schema/step-marker';
import { readSelection } from './read-selection';

export interface ApplyRenamesInput extends Endpoints {
  objects: ObjectsSpec;
  conflicts: 'error' | 'ignore';
}

export interface ApplyRenamesResult {
  statements: number;
  alreadyDone: boolean;
}

export function makeApplyRenames(deps: ActivityDeps) {
  return async function applyRenames(input: ApplyRenamesInput): Promise<ApplyRenamesResult> {
    const { source, target, secrets } = resolveBoth(deps, input);
    const { workflowId } = owningWorkflow();
    let src: Client | undefined;
    let tgt: Client | undefined;
    // ALTER may wait for a lock: the heartbeat says the worker is alive meanwhile.
    const beat = setInterval(() => Context.current().heartbeat('renames'), 1_000);
    try {
      return await guarded({ doing: `rename objects in target ${target.label}`, secrets, retry: input.retry }, async () => {
        tgt = await openClient(target, 'rename');
        if (await isStepDone(tgt, workflowId, 'renames')) return { statements: 0, alreadyDone: true };
        src = await openClient(source, 'rename');
        const selection = await readSelection(src, input.objects, input.conflicts);
        const partitions = new Set(selection.catalog.filter((t) => t.root).map(tableKey));
        const existingBefore = new Set(await loadExistingSchemas(tgt, workflowId));
        const statements = await renameStatements(tgt, selection.tables, selection.schemaRenames, existingBefore, (t) => partitions.has(tableKey(t)));
        statements.push(...(await otherObjectMoves(src, tgt, selection.schemaRenames, selection.wholeSchemas, existingBefore)));
        await tgt.query('BEGIN');
        for (const sql of statements) await tgt.query(sql);
        await tgt.query(markerSql(workflowId, 'renames'));
        await tgt.query('COMMIT');
        return { statements: statements.length, alreadyDone: false };
      });
    } finally {
      clearInterval(beat);
      await closeQuietly(src);
      await closeQuietly(tgt);
    }
  };
}

/** Which of these relations exist in the target (as `schema.name` keys of the raw names). */
async function existing(tgt: Client, tables: Array<{ schema: string; name: string }>): Promise<Set<string>> {
  const { rows } = await tgt.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       JOIN unnest($1::text[], $2::text[]) AS s(schema, name) ON s.schema = n.nspname AND s.name = c.relname`,
    [tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  return new Set(rows.map((r) => JSON.stringify([r.schema, r.name])));
}

/**
 * Columns first (under the old table names), then tables (RENAME, then SET SCHEMA for a
 * table-level schema change), then schemas: renamed wholesale when the migration created the
 * schema and the new name is free, otherwise the migrated tables move into the new schema.
 */
export async function renameStatements(
  tgt: Client,
  tables: TableSelection[],
  schemaRenames: Record<string, string>,
  existingBefore: Set<string>,
  isPartition: (t: TableSelection) => boolean,
): Promise<string[]> {
  const present = await existing(tgt, tables);
  const { rows: schemaRows } = await tgt.query<{ nspname: string }>('SELECT nspname FROM pg_catalog.pg_namespace');
  const targetSchemas = new Set(schemaRows.map((r) => r.nspname));
  const out: string[] = [];
  const moved: Array<{ schema: string; name: string; to: string }> = [];
  for (const t of tables) {
    if (!present.has(JSON.stringify([t.schema, t.name]))) continue; // pre-existing under its target name
    const current = { schema: t.schema, name: t.name };
    // Partitions inherit column renames from their partitioned table.
    if (!isPartition(t)) {
      for (const [from, to] of Object.entries(t.renameColumns)) {
        if (from !== to) out.push(`ALTER TABLE ${qualified(current)} RENAME COLUMN ${quoteIdent(from)} TO ${quoteIdent(to)}`);
      }
    }
    if (t.target.name !== t.name) {
      out.push(`ALTER TABLE ${qualified(current)} RENAME TO ${quoteIdent(t.target.name)}`);
      current.name = t.target.name;
    }
    const schemaByRename = schemaRenames[t.schema] ?? t.schema;
    if (t.target.schema !== schemaByRename) {
      if (!targetSchemas.has(t.target.schema)) {
        out.push(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(t.target.schema)}`);
        targetSchemas.add(t.target.schema);
      }
      out.push(`ALTER TABLE ${qualified(current)} SET SCHEMA ${quoteIdent(t.target.schema)}`);
    } else if (t.target.schema !== t.schema) {
      moved.push({ ...current, to: t.target.schema });
    }
  }
  for (const [from, to] of Object.entries(schemaRenames)) {
    if (!targetSchemas.has(from)) continue; // nothing of it was created
    if (!existingBefore.has(from) && !targetSchemas.has(to)) {
      out.push(`ALTER SCHEMA ${quoteIdent(from)} RENAME TO ${quoteIdent(to)}`);
      continue;
    }
    if (!targetSchemas.has(to)) out.push(`CREATE SCHEMA ${quoteIdent(to)}`);
    targetSchemas.add(to);
    // Moving a partitioned table does not move its partitions: each moves on its own.
    for (const m of moved.filter((m) => m.schema === from)) out.push(`ALTER TABLE ${qualified(m)} SET SCHEMA ${quoteIdent(to)}`);
  }
  return out;
}

/**
 * The source schema's objects other than tables (views, materialized views, free-standing
 * sequences, functions, procedures, aggregates, types, domains), for one selected as a whole.
 * `identity` is how ALTER names them within the schema.
 */
const SCHEMA_OBJECTS_SQL = `
  SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' ELSE 'FOREIGN TABLE' END AS kind,
         pg_catalog.quote_ident(c.relname) AS identity, 'rel' AS lookup
    FROM pg_catalog.pg_class c
   WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('v', 'm', 'S', 'f')
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'e', 'i'))
  UNION ALL
  SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
         pg_catalog.quote_ident(p.proname) || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')', 'proc'
    FROM pg_catalog.pg_proc p
   WHERE p.pronamespace = $1::regnamespace
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype IN ('e', 'i'))
  UNION ALL
  SELECT CASE y.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, pg_catalog.quote_ident(y.typname), 'type'
    FROM pg_catalog.pg_type y
   WHERE y.typnamespace = $1::regnamespace AND y.typtype IN ('e', 'd', 'r', 'c')
     AND (y.typtype <> 'c' OR EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = y.typrelid AND c.relkind = 'c'))
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_type'::regclass AND d.objid = y.oid AND d.deptype IN ('e', 'i'))`;

/**
 * A schema selected as a whole and renamed into a schema the target already has (or that the
 * target had before, such as public): its tables moved one by one (renameStatements), and so
 * do the other objects the migration created there — those named as in the source schema
 * (a same-named object the target had before would have failed pre-data).
 */
async function otherObjectMoves(src: Client, tgt: Client, schemaRenames: Record<string, string>, wholeSchemas: string[], existingBefore: Set<string>): Promise<string[]> {
  const out: string[] = [];
  for (const [from, to] of Object.entries(schemaRenames)) {
    if (!wholeSchemas.includes(from)) continue;
    const { rows: targetHas } = await tgt.query<{ ok: boolean }>('SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1) AS ok', [to]);
    if (!existingBefore.has(from) && !targetHas[0].ok) continue; // renamed wholesale: everything went with it
    const { rows } = await src.query<{ kind: string; identity: string; lookup: string }>(SCHEMA_OBJECTS_SQL, [quoteIdent(from)]);
    for (const o of rows) {
      const name = `${quoteIdent(from)}.${o.identity}`;
      const lookup = o.lookup === 'rel' ? 'to_regclass' : o.lookup === 'proc' ? 'to_regprocedure' : 'to_regtype';
      const { rows: found } = await tgt.query<{ ok: boolean }>(`SELECT pg_catalog.${lookup}($1) IS NOT NULL AS ok`, [name]);
      if (found[0].ok) out.push(`ALTER ${o.kind} ${name} SET SCHEMA ${quoteIdent(to)}`);
    }
    // The migration created the old schema: drop it once empty (what could not move keeps it).
    if (!existingBefore.has(from)) {
      out.push(`DO $$ BEGIN EXECUTE ${quoteLiteral(`DROP SCHEMA ${quoteIdent(from)}`)}; EXCEPTION WHEN dependent_objects_still_exist THEN NULL; END $$`);
    }
  }
  return out;
}
