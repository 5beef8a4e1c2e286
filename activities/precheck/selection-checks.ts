/**
 * Precheck items of the spec's `objects` section: the selection matches what it names, row
 * filters are valid SQL on the source, tables that already exist in the target (by their
 * target names, with per-table conflict modes), and functions whose bodies name a renamed
 * object (bodies are text: they cannot follow a rename).
 */
import type { Client } from 'pg';
import { displayName, type CheckItem } from '../../common/plan';
import type { ObjectsSpec } from '../../common/objects-spec';
import { escapeRegex } from '../../common/object-patterns';
import type { Selection, TableSelection } from '../../common/selection';
import { qualified } from '../db';
import { errorMessage } from '../errors';
import { readSelection } from '../objects/read-selection';
import { listSome } from './items';

type Table = { schema: string; name: string };

export interface SelectionCheckResult {
  items: CheckItem[];
  /** Selected tables (source names) whose target name already exists in the target. */
  conflictingTables: Table[];
  /** The target names of those. */
  conflictingTargets: Table[];
  /** The target names of every selected table. */
  targets: Table[];
  /** The selected tables (source names). */
  selected: Table[];
}

export async function selectionChecks(
  src: Client,
  tgt: Client,
  objects: ObjectsSpec,
  conflicts: 'error' | 'ignore',
  withSchema: boolean,
  /** Incremental migrations: the operations each table replicates (by display name). */
  streamOperations?: (t: Table) => readonly string[],
): Promise<SelectionCheckResult> {
  const selection = await readSelection(src, objects, conflicts);
  const items: CheckItem[] = [selectionItem(selection)];
  if (selection.tables.some((t) => t.where)) items.push(await filterItem(src, selection.tables));
  if (streamOperations && !selection.problems.length) items.push(await streamIdentityItem(src, selection.tables, streamOperations));
  const renamed = await renamedInFunctions(src, selection);
  if (renamed) items.push(renamed);
  let conflictingTables: Table[] = [];
  if (withSchema) {
    conflictingTables = await conflictsByTargetName(tgt, selection.tables);
    items.push(conflictItem(selection.tables, conflictingTables));
  }
  const targetOf = new Map(selection.tables.map((t) => [displayName(t), t.target]));
  return { items, conflictingTables, conflictingTargets: conflictingTables.map((t) => targetOf.get(displayName(t)) ?? t), targets: selection.tables.map((t) => t.target), selected: selection.tables };
}

function selectionItem(selection: Selection): CheckItem {
  if (selection.problems.length) {
    return {
      id: 'objects-selection',
      status: 'fail',
      title: `The objects section does not match the source: ${selection.problems.join('; ')}.`,
      advice: 'Correct the names and patterns in objects (unquoted names are lower-cased; quote mixed-case names: "Sales"."Orders").',
    };
  }
  const whole = selection.wholeSchemas.length ? `; whole schemas: ${listSome(selection.wholeSchemas)}` : '';
  return { id: 'objects-selection', status: 'pass', title: `The selection matches ${selection.tables.length} table(s)${whole}.`, advice: 'Nothing to do.' };
}

/** Each filter is planned (not run) on the source: syntax, column names and types are checked. */
async function filterItem(src: Client, tables: TableSelection[]): Promise<CheckItem> {
  const bad: string[] = [];
  const seen = new Set<string>();
  for (const t of tables) {
    if (!t.where || seen.has(`${t.where}\u0000${displayName(t)}`)) continue;
    seen.add(`${t.where}\u0000${displayName(t)}`);
    try {
      await src.query('BEGIN READ ONLY');
      await src.query(`EXPLAIN SELECT 1 FROM ONLY ${qualified(t)} WHERE (${t.where})`);
    } catch (err) {
      bad.push(`${displayName(t)}: where "${t.where}": ${errorMessage(err)}`);
    } finally {
      await src.query('ROLLBACK').catch(() => undefined);
    }
  }
  if (bad.length) {
    return { id: 'row-filters', status: 'fail', title: `Row filter(s) the source rejects: ${bad.join('; ')}.`, advice: 'Fix the where conditions in objects.tables: they are SQL conditions on the source table\'s columns.' };
  }
  return { id: 'row-filters', status: 'pass', title: `Every row filter is valid on the source (${tables.filter((t) => t.where).length} table(s)).`, advice: 'Nothing to do.' };
}

/**
 * The change stream finds rows by the replica identity: a table whose updates or deletes are
 * replicated must keep its identity columns, and its row filter may read only those columns
 * (the old row carries nothing else) unless the identity is FULL — PostgreSQL's own rule for
 * publication row filters.
 */
async function streamIdentityItem(src: Client, tables: TableSelection[], operationsOf: (t: Table) => readonly string[]): Promise<CheckItem> {
  const problems: string[] = [];
  const fixes = new Set<string>();
  for (const t of tables) {
    const ops = operationsOf(t);
    if (!ops.includes('update') && !ops.includes('delete')) continue;
    if (!t.excludedColumns.length && !t.where) continue;
    const before = problems.length;
    const identity = await identityColumns(src, t);
    if (identity.full) continue;
    const leftOut = identity.columns.filter((c) => t.excludedColumns.includes(c));
    if (leftOut.length) problems.push(`${displayName(t)} leaves out its replica identity column(s) ${leftOut.join(', ')}`);
    if (t.where) {
      const read = await filterColumns(src, t, t.where);
      const outside = read.filter((c) => !identity.columns.includes(c));
      if (outside.length) problems.push(`the row filter of ${displayName(t)} reads ${outside.join(', ')}, outside its replica identity (${identity.columns.join(', ') || 'none'})`);
    }
    if (problems.length > before) fixes.add(`ALTER TABLE ${qualified(t)} REPLICA IDENTITY FULL;`);
  }
  if (!problems.length) return { id: 'objects-stream', status: 'pass', title: 'The change stream can apply the selected columns and row filters.', advice: 'Nothing to do.' };
  return {
    id: 'objects-stream',
    status: 'fail',
    title: `The change stream cannot follow the selection: ${problems.join('; ')}.`,
    advice: `Keep the key columns and filter on them only, or log whole rows on the source: ${[...fixes].join(' ')}`,
  };
}

async function identityColumns(src: Client, t: Table): Promise<{ full: boolean; columns: string[] }> {
  const { rows } = await src.query<{ full: boolean; columns: string[] }>(
    `SELECT c.relreplident = 'f' AS full,
            ARRAY(SELECT a.attname::text FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                   WHERE i.indrelid = c.oid AND ((c.relreplident = 'd' AND i.indisprimary) OR (c.relreplident = 'i' AND i.indisreplident))) AS columns
       FROM pg_catalog.pg_class c WHERE c.oid = $1::regclass`,
    [qualified(t)],
  );
  return rows[0] ?? { full: false, columns: [] };
}

/** The columns a condition reads, from the dependencies of a throw-away view (rolled back). */
export async function filterColumns(src: Client, t: Table, where: string): Promise<string[]> {
  try {
    await src.query('BEGIN');
    await src.query(`CREATE TEMP VIEW pgferry_filter_probe AS SELECT 1 AS one FROM ONLY ${qualified(t)} WHERE (${where})`);
    const { rows } = await src.query<{ attname: string }>(
      `SELECT DISTINCT a.attname::text AS attname FROM pg_catalog.pg_rewrite r
         JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
         JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
        WHERE r.ev_class = 'pgferry_filter_probe'::regclass AND d.refobjid = $1::regclass AND d.refobjsubid > 0 ORDER BY 1`,
      [qualified(t)],
    );
    return rows.map((r) => r.attname);
  } finally {
    await src.query('ROLLBACK').catch(() => undefined);
  }
}

/** Functions whose source text mentions a renamed schema, table or column. */
async function renamedInFunctions(src: Client, selection: Selection): Promise<CheckItem | undefined> {
  const words = new Set<string>(Object.keys(selection.schemaRenames));
  for (const t of selection.tables) {
    if (t.target.name !== t.name || t.target.schema !== t.schema) words.add(t.name);
    for (const c of Object.keys(t.renameColumns)) words.add(c);
  }
  if (!words.size) return undefined;
  const { rows: functions } = await src.query<{ fn: string; body: string }>(
    `SELECT p.oid::regprocedure::text AS fn, p.prosrc AS body
       FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
      ORDER BY 1`,
  );
  const patterns = [...words].map((word) => ({ word, re: new RegExp(`(^|[^\\p{L}\\p{N}_$])${escapeRegex(word)}($|[^\\p{L}\\p{N}_$])`, 'iu') }));
  const rows = functions.flatMap((f) => patterns.filter((p) => p.re.test(f.body)).map((p) => ({ fn: f.fn, word: p.word })));
  if (!rows.length) return { id: 'renamed-in-functions', status: 'pass', title: 'No function body mentions a renamed object.', advice: 'Nothing to do.' };
  const byFunction = new Map<string, string[]>();
  for (const r of rows) byFunction.set(r.fn, [...(byFunction.get(r.fn) ?? []), r.word]);
  const described = [...byFunction].map(([fn, ws]) => `${fn} mentions ${ws.join(', ')}`);
  return {
    id: 'renamed-in-functions',
    status: 'warning',
    title: `${byFunction.size} function(s) mention renamed objects in their body: ${listSome(described, 10)}.`,
    advice: 'Function bodies are text and keep the old names: edit these functions on the target after the migration (views, indexes, keys, sequences and triggers follow renames by themselves).',
  };
}

/** Selected tables whose target name (after renames) already exists in the target. */
async function conflictsByTargetName(tgt: Client, tables: TableSelection[]): Promise<Table[]> {
  if (!tables.length) return [];
  const { rows } = await tgt.query<{ i: number }>(
    `SELECT s.i FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       JOIN unnest($1::text[], $2::text[]) WITH ORDINALITY AS s(schema, name, i) ON s.schema = n.nspname AND s.name = c.relname
      WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')`,
    [tables.map((t) => t.target.schema), tables.map((t) => t.target.name)],
  );
  return rows.map((r) => ({ schema: tables[Number(r.i) - 1].schema, name: tables[Number(r.i) - 1].name }));
}

function conflictItem(tables: TableSelection[], conflicting: Table[]): CheckItem {
  if (!conflicting.length) return { id: 'target-conflicts', status: 'pass', title: 'No table to be created exists in the target yet.', advice: 'Nothing to do.' };
  const mode = new Map(tables.map((t) => [displayName(t), t]));
  const describe = (t: Table) => {
    const s = mode.get(displayName(t));
    return s && displayName(s.target) !== displayName(t) ? `${displayName(s.target)} (the target name of ${displayName(t)})` : displayName(t);
  };
  const errors = conflicting.filter((t) => mode.get(displayName(t))?.conflicts !== 'ignore');
  if (errors.length) {
    return {
      id: 'target-conflicts',
      status: 'fail',
      title: `${errors.length} table(s) already exist in the target: ${listSome(errors.map(describe))}.`,
      advice: 'Drop them, migrate into an empty database, or set conflicts: ignore (for all, or per table in objects.tables) to keep them and add the missing rows.',
    };
  }
  return {
    id: 'target-conflicts',
    status: 'warning',
    title: `${conflicting.length} table(s) already exist in the target: ${listSome(conflicting.map(describe))}.`,
    advice: 'conflicts: ignore keeps them as they are and adds the source rows whose keys they lack (the target row wins during the copy, the source row during the change stream); check that their columns match the source.',
  };
}
