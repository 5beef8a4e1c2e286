/**
 * Applies the spec's `objects` section to the source's tables: which are migrated, under which
 * target names, with which columns and rows. Pure (the catalog is read elsewhere), so the
 * rules live in one place and are unit-tested.
 *
 * Rules:
 * - With no `include`, everything is selected; otherwise tables matching an include pattern.
 *   `exclude` wins over `include`. A one-part pattern (`sales`) or `sales.*` selects the whole
 *   schema: its views, functions, types... come along (table-level selection carries only
 *   what the tables need).
 * - Partitions follow their partitioned table (selection, columns, filter, conflicts).
 * - Every pattern and name in the section must match something: otherwise it is a problem
 *   (a precheck failure naming it), as are two tables mapped to one target name.
 */
import { coversWholeSchema, matchesColumn, matchesSchema, matchesTable, parseExactName, parsePattern, partMatches, type ObjectPattern } from './object-patterns';
import type { ObjectsSpec, TableOptions } from './objects-spec';
import { displayName, tableKey } from './plan';

/** A source table as the catalog lists it. */
export interface CatalogTable {
  schema: string;
  name: string;
  /** The partitioned table at the top of its tree, for partitions. */
  root?: { schema: string; name: string };
  partitioned: boolean;
  /** Column names in attnum order (only needed when column options apply). */
  columns?: string[];
}

export interface TableSelection {
  schema: string;
  name: string;
  target: { schema: string; name: string };
  /** Columns that are migrated (source names); undefined: all of them. */
  columns?: string[];
  /** Columns left out (source names). */
  excludedColumns: string[];
  /** Column renames, source name → target name. */
  renameColumns: Record<string, string>;
  where?: string;
  conflicts: 'error' | 'ignore';
}

export interface Selection {
  tables: TableSelection[];
  /** Schemas selected as a whole (their other objects come along). */
  wholeSchemas: string[];
  /** Schema renames that apply (source → target). */
  schemaRenames: Record<string, string>;
  /** Each a precheck failure naming the spec entry at fault. */
  problems: string[];
}

/** True when the section changes nothing: every table, same names, all rows. */
export function selectsEverything(objects: ObjectsSpec | undefined): boolean {
  return !objects || (!objects.include && !objects.exclude.length && !Object.keys(objects.rename).length && !Object.keys(objects.tables).length);
}

/** Whether column lists must be read from the catalog (column options or patterns exist). */
export function needsColumns(objects: ObjectsSpec): boolean {
  return objects.exclude.some((p) => parsePattern(p).parts.length === 3) || Object.keys(objects.tables).length > 0;
}

interface Parsed {
  include?: ObjectPattern[];
  exclude: ObjectPattern[];
  schemaRenames: Map<string, { from: string; to: string; key: string }>;
  tableRenames: Map<string, { to: string[]; key: string }>;
  options: Map<string, { options: TableOptions; key: string }>;
}

function parse(objects: ObjectsSpec): Parsed {
  const schemaRenames = new Map<string, { from: string; to: string; key: string }>();
  const tableRenames = new Map<string, { to: string[]; key: string }>();
  for (const [from, to] of Object.entries(objects.rename)) {
    const f = parseExactName(from, 1, 2);
    const t = parseExactName(to, 1, 2);
    if (f.length === 1) schemaRenames.set(f[0], { from: f[0], to: t[0], key: from });
    else tableRenames.set(tableKey({ schema: f[0], name: f[1] }), { to: t, key: from });
  }
  const options = new Map<string, { options: TableOptions; key: string }>();
  for (const [key, opts] of Object.entries(objects.tables)) {
    const [schema, name] = parseExactName(key, 2, 2);
    options.set(tableKey({ schema, name }), { options: opts, key });
    if (opts.rename) tableRenames.set(tableKey({ schema, name }), { to: parseExactName(opts.rename, 1, 2), key: `tables.${key}.rename` });
  }
  return {
    include: objects.include?.map((p) => parsePattern(p, 2)),
    exclude: objects.exclude.map((p) => parsePattern(p, 3)),
    schemaRenames,
    tableRenames,
    options,
  };
}

export function selectTables(objects: ObjectsSpec, catalog: CatalogTable[], schemas: string[], defaultConflicts: 'error' | 'ignore'): Selection {
  const spec = parse(objects);
  const problems: string[] = [];
  const used = new Set<ObjectPattern>();
  const usedRenames = new Set<string>();
  const usedOptions = new Set<string>();

  const isSelected = (t: { schema: string; name: string }): boolean => {
    const included = !spec.include || spec.include.some((p) => matchesTable(p, t.schema, t.name) && used.add(p));
    const excluded = spec.exclude.some((p) => p.parts.length <= 2 && matchesTable(p, t.schema, t.name) && used.add(p));
    return included && !excluded;
  };

  const byKey = new Map(catalog.map((t) => [tableKey(t), t]));
  const tables: TableSelection[] = [];
  for (const t of catalog) {
    const decider = t.root ?? t; // partitions follow their partitioned table
    if (!isSelected(decider)) continue;
    const optionsEntry = spec.options.get(tableKey(decider));
    if (optionsEntry) usedOptions.add(tableKey(decider));
    if (t.root && spec.options.has(tableKey(t))) {
      usedOptions.add(tableKey(t));
      problems.push(`objects.tables."${spec.options.get(tableKey(t))!.key}": ${displayName(t)} is a partition of ${displayName(t.root)}; give the options on the partitioned table`);
    }
    const options = optionsEntry?.options ?? {};
    const columns = selectColumns(spec, options, decider, t, problems, used);
    const rename = spec.tableRenames.get(tableKey(t));
    if (rename) usedRenames.add(rename.key);
    const schemaRename = spec.schemaRenames.get(t.schema);
    if (schemaRename) usedRenames.add(schemaRename.key);
    const targetSchema = rename?.to.length === 2 ? rename.to[0] : (schemaRename?.to ?? t.schema);
    const targetName = rename ? rename.to[rename.to.length - 1] : t.name;
    const selection: TableSelection = {
      schema: t.schema,
      name: t.name,
      target: { schema: targetSchema, name: targetName },
      excludedColumns: columns.excluded,
      renameColumns: columns.renames,
      conflicts: options.conflicts ?? defaultConflicts,
    };
    if (columns.kept) selection.columns = columns.kept;
    if (options.where) selection.where = options.where;
    tables.push(selection);
  }

  // Whole schemas: named by a one-part include (or schema.*), or everything when no include.
  const wholeSchemas = schemas.filter((s) => {
    const included = !spec.include || spec.include.some((p) => coversWholeSchema(p) && partMatches(p.parts[0], s));
    const excluded = spec.exclude.some((p) => matchesSchema(p, s));
    return included && !excluded;
  });
  for (const p of [...(spec.include ?? []), ...spec.exclude]) {
    if (p.parts.length === 1 && schemas.some((s) => matchesSchema(p, s))) used.add(p);
  }

  for (const p of [...(spec.include ?? []), ...spec.exclude]) {
    if (!used.has(p)) problems.push(`objects.${spec.include?.includes(p) ? 'include' : 'exclude'}: "${p.text}" matches nothing on the source`);
  }
  for (const [key, entry] of spec.options) {
    if (usedOptions.has(key)) continue;
    problems.push(byKey.has(key) ? `objects.tables."${entry.key}": the table is not selected (see objects.include / exclude)` : `objects.tables."${entry.key}": no such table on the source`);
  }
  for (const { key } of [...spec.schemaRenames.values(), ...spec.tableRenames.values()]) {
    if (!usedRenames.has(key)) problems.push(`objects.rename "${key}": no selected ${key.startsWith('tables.') || parseExactName(key, 1, 2).length === 2 ? 'table' : 'schema'} has that name on the source`);
  }
  if (tables.length === 0 && catalog.length > 0) problems.push('objects: the selection matches no table on the source');
  problems.push(...duplicateTargets(tables));

  const schemaRenames: Record<string, string> = {};
  for (const r of spec.schemaRenames.values()) if (usedRenames.has(r.key)) schemaRenames[r.from] = r.to;
  return { tables, wholeSchemas, schemaRenames, problems };
}

/**
 * What the spec does with one column of a table (of its partitioned table, for a partition), by name: migrated or left out, and under which
 * target name. The rules are by name, so this holds for a column that DDL adds or renames during
 * the stream as it does for the columns there at the start.
 */
export function columnFate(objects: ObjectsSpec, decider: { schema: string; name: string }, column: string): { kept: boolean; target: string } {
  const spec = parse(objects);
  const options = spec.options.get(tableKey(decider))?.options ?? {};
  // A second, impossible column keeps "every column is left out" from mattering.
  const probe: CatalogTable = { ...decider, partitioned: false, columns: [column, '\u0000'] };
  const { excluded, renames } = selectColumns(spec, options, decider, probe, [], new Set());
  return { kept: !excluded.includes(column), target: renames[column] ?? column };
}

function selectColumns(
  spec: Parsed,
  options: TableOptions,
  decider: { schema: string; name: string },
  table: CatalogTable,
  problems: string[],
  used: Set<ObjectPattern>,
): { kept?: string[]; excluded: string[]; renames: Record<string, string> } {
  const all = table.columns;
  const renames: Record<string, string> = {};
  const label = `objects.tables."${displayName(decider)}"`;
  if (!all) return { excluded: [], renames };
  const missing = (names: string[], field: string) => {
    for (const n of names) if (!all.includes(n)) problems.push(`${label}.${field}: ${displayName(table)} has no column "${n}"`);
  };
  let kept = all;
  if (Array.isArray(options.columns)) {
    const list: string[] = options.columns;
    missing(list, 'columns');
    kept = all.filter((c) => list.includes(c));
  } else if (options.columns) {
    missing(Object.keys(options.columns), 'columns');
    Object.assign(renames, options.columns);
  }
  if (options.excludeColumns) {
    missing(options.excludeColumns, 'excludeColumns');
    kept = kept.filter((c) => !options.excludeColumns!.includes(c));
  }
  // Every column is tried against every pattern, so a pattern that repeats excludeColumns still counts as used.
  const byPattern = new Set(all.filter((c) => spec.exclude.filter((p) => matchesColumn(p, decider.schema, decider.name, c) && used.add(p)).length > 0));
  kept = kept.filter((c) => !byPattern.has(c));
  if (kept.length === 0) problems.push(`${label}: every column of ${displayName(table)} is left out`);
  const excluded = all.filter((c) => !kept.includes(c));
  return { kept: excluded.length ? kept : undefined, excluded, renames };
}

function duplicateTargets(tables: TableSelection[]): string[] {
  const seen = new Map<string, TableSelection>();
  const problems: string[] = [];
  for (const t of tables) {
    const key = tableKey(t.target);
    const other = seen.get(key);
    if (other) problems.push(`objects.rename: ${displayName(other)} and ${displayName(t)} would both become ${displayName(t.target)} in the target`);
    else seen.set(key, t);
  }
  return problems;
}
