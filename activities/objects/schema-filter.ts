/**
 * Which entries of the schema dump a selection keeps. The dump is always of the whole
 * database; the selection is applied to its table of contents (`pg_restore -l` / `-L`), with
 * the source catalog's dependencies (pg_depend) deciding what goes:
 *
 * 1. Wanted: selected tables and what hangs off them (indexes, constraints, triggers,
 *    defaults, owned sequences), every object of a schema selected as a whole, extensions,
 *    and what the selected tables need to be created (types, domains, sequences, functions
 *    and collations their columns, defaults and checks use).
 * 2. Dropped: everything else in the dump, and excluded columns, plus — transitively —
 *    everything that depends on something dropped (a view on an excluded column, a foreign key
 *    to a table left out, a trigger whose function is left out). An object that is part of
 *    another (a view's rewrite rule, a constraint's index) takes its whole with it.
 *
 * Entries without a catalog id (comments, grants, security labels, partition attachments,
 * sequence ownership) go with their object, recognised by the tag pg_dump gives them.
 */
import type { Client } from 'pg';
import type { TocEntry } from '../schema/existing-objects';
import type { CatalogRow } from './read-selection';
import type { Selection } from '../../common/selection';
import { tableKey } from '../../common/plan';

export interface SchemaFilter {
  /** Dump ids to leave out of every restore. */
  skip: number[];
  /** Columns to drop from target tables created with all of them (source names). */
  dropColumns: Array<{ schema: string; name: string; columns: string[] }>;
  /** Readable descriptions of objects left out because they depend on something not migrated. */
  leftOutByDependency: string[];
  /** Objects in the schemas of selected tables that were not selected (table-level selection). */
  notSelected: string[];
}

/**
 * OIDs of system catalogs, as pg_depend's classid and the dump's catalog ids give them:
 * fixed by PostgreSQL (`'pg_catalog.pg_constraint'::regclass` is 2606 on every version).
 */
const CLASS = {
  pg_class: 1259,
  pg_constraint: 2606,
  pg_namespace: 2615,
  pg_extension: 3079,
} as const;

/** Per TOC object: its schema and the relation it belongs to (an index's table, a trigger's table...). */
const HOME_SQL = `
SELECT t.classid::int8 AS classid, t.objid::int8 AS objid,
       CASE t.classid
         WHEN 'pg_catalog.pg_class'::regclass THEN (SELECT c.relnamespace FROM pg_catalog.pg_class c WHERE c.oid = t.objid)
         WHEN 'pg_catalog.pg_type'::regclass THEN (SELECT y.typnamespace FROM pg_catalog.pg_type y WHERE y.oid = t.objid)
         WHEN 'pg_catalog.pg_proc'::regclass THEN (SELECT p.pronamespace FROM pg_catalog.pg_proc p WHERE p.oid = t.objid)
         WHEN 'pg_catalog.pg_namespace'::regclass THEN t.objid
         WHEN 'pg_catalog.pg_constraint'::regclass THEN (SELECT k.connamespace FROM pg_catalog.pg_constraint k WHERE k.oid = t.objid)
         WHEN 'pg_catalog.pg_collation'::regclass THEN (SELECT o.collnamespace FROM pg_catalog.pg_collation o WHERE o.oid = t.objid)
         WHEN 'pg_catalog.pg_conversion'::regclass THEN (SELECT o.connamespace FROM pg_catalog.pg_conversion o WHERE o.oid = t.objid)
         WHEN 'pg_catalog.pg_operator'::regclass THEN (SELECT o.oprnamespace FROM pg_catalog.pg_operator o WHERE o.oid = t.objid)
         WHEN 'pg_catalog.pg_opclass'::regclass THEN (SELECT o.opcnamespace FROM pg_catalog.pg_opclass o WHERE o.oid = t.objid)
         WHEN 'pg_catalog.pg_opfamily'::regclass THEN (SELECT o.opfnamespace FROM pg_catalog.pg_opfamily o WHERE o.oid = t.objid)
         WHEN 'pg_catalog.pg_statistic_ext'::regclass THEN (SELECT o.stxnamespace FROM pg_catalog.pg_statistic_ext o WHERE o.oid = t.objid)
         WHEN 'pg_catalog.pg_ts_config'::regclass THEN (SELECT o.cfgnamespace FROM pg_catalog.pg_ts_config o WHERE o.oid = t.objid)
         WHEN 'pg_catalog.pg_ts_dict'::regclass THEN (SELECT o.dictnamespace FROM pg_catalog.pg_ts_dict o WHERE o.oid = t.objid)
         WHEN 'pg_catalog.pg_ts_parser'::regclass THEN (SELECT o.prsnamespace FROM pg_catalog.pg_ts_parser o WHERE o.oid = t.objid)
         WHEN 'pg_catalog.pg_ts_template'::regclass THEN (SELECT o.tmplnamespace FROM pg_catalog.pg_ts_template o WHERE o.oid = t.objid)
       END::int8 AS nsp,
       CASE t.classid
         WHEN 'pg_catalog.pg_class'::regclass THEN coalesce(
           (SELECT i.indrelid FROM pg_catalog.pg_index i WHERE i.indexrelid = t.objid),
           (SELECT d.refobjid FROM pg_catalog.pg_depend d
             WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = t.objid
               AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype = 'a' LIMIT 1))
         WHEN 'pg_catalog.pg_constraint'::regclass THEN (SELECT nullif(k.conrelid, 0) FROM pg_catalog.pg_constraint k WHERE k.oid = t.objid)
         WHEN 'pg_catalog.pg_trigger'::regclass THEN (SELECT g.tgrelid FROM pg_catalog.pg_trigger g WHERE g.oid = t.objid)
         WHEN 'pg_catalog.pg_rewrite'::regclass THEN (SELECT r.ev_class FROM pg_catalog.pg_rewrite r WHERE r.oid = t.objid)
         WHEN 'pg_catalog.pg_policy'::regclass THEN (SELECT p.polrelid FROM pg_catalog.pg_policy p WHERE p.oid = t.objid)
         WHEN 'pg_catalog.pg_attrdef'::regclass THEN (SELECT a.adrelid FROM pg_catalog.pg_attrdef a WHERE a.oid = t.objid)
         WHEN 'pg_catalog.pg_statistic_ext'::regclass THEN (SELECT s.stxrelid FROM pg_catalog.pg_statistic_ext s WHERE s.oid = t.objid)
         WHEN 'pg_catalog.pg_publication_rel'::regclass THEN (SELECT p.prrelid FROM pg_catalog.pg_publication_rel p WHERE p.oid = t.objid)
       END::int8 AS owner,
       (SELECT c.relkind::text FROM pg_catalog.pg_class c WHERE t.classid = 'pg_catalog.pg_class'::regclass AND c.oid = t.objid) AS relkind
  FROM unnest($1::oid[], $2::oid[]) AS t(classid, objid)`;

/**
 * What the selected tables need to be created: following pg_depend from the tables, their
 * defaults and CHECK constraints to types, sequences, functions, collations and schemas
 * (and on through those), never into other tables.
 */
const NEEDS_SQL = `
WITH RECURSIVE start AS (
  SELECT 'pg_catalog.pg_class'::regclass::oid AS classid, t.oid AS objid FROM unnest($1::oid[]) AS t(oid)
  UNION
  SELECT d.classid, d.objid FROM pg_catalog.pg_depend d, unnest($1::oid[]) AS t(oid)
   WHERE d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = t.oid
     AND (d.classid = 'pg_catalog.pg_attrdef'::regclass
          OR (d.classid = 'pg_catalog.pg_constraint'::regclass AND EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.oid = d.objid AND k.contype = 'c'))
          OR (d.classid = 'pg_catalog.pg_class'::regclass AND d.deptype = 'a' AND EXISTS (SELECT 1 FROM pg_catalog.pg_class s WHERE s.oid = d.objid AND s.relkind = 'S')))
), needs(classid, objid) AS (
  SELECT classid, objid FROM start
  UNION
  SELECT d.refclassid, d.refobjid
    FROM needs n JOIN pg_catalog.pg_depend d ON d.classid = n.classid AND d.objid = n.objid
   WHERE d.deptype IN ('n', 'a', 'i') AND d.refobjid >= 16384
     AND (d.refclassid IN ('pg_catalog.pg_type'::regclass, 'pg_catalog.pg_proc'::regclass, 'pg_catalog.pg_collation'::regclass, 'pg_catalog.pg_namespace'::regclass)
          OR (d.refclassid = 'pg_catalog.pg_class'::regclass AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = d.refobjid AND c.relkind IN ('S', 'c'))))
)
SELECT classid::int8, objid::int8 FROM needs`;

/** Everything that depends, transitively, on the seeds; a dropped part takes its whole along. */
const DROPPED_SQL = `
WITH RECURSIVE dropped(classid, objid, objsubid) AS (
  SELECT * FROM unnest($1::oid[], $2::oid[], $3::int4[])
  UNION
  SELECT s.classid, s.objid, s.objsubid
    FROM dropped x
    JOIN pg_catalog.pg_depend d ON d.refclassid = x.classid AND d.refobjid = x.objid AND (x.objsubid = 0 OR d.refobjsubid = x.objsubid)
    CROSS JOIN LATERAL (
      SELECT d.classid, d.objid, d.objsubid
      UNION ALL
      SELECT w.refclassid, w.refobjid, w.refobjsubid FROM pg_catalog.pg_depend w
       WHERE w.classid = d.classid AND w.objid = d.objid AND w.deptype = 'i'
    ) s
   WHERE d.deptype <> 'e'
)
SELECT x.classid::int8 AS classid, x.objid::int8 AS objid, x.objsubid,
       (SELECT i.type || ' ' || i.identity FROM pg_catalog.pg_identify_object(x.classid, x.objid, x.objsubid) i) AS description,
       (SELECT a.attname::text FROM pg_catalog.pg_attribute a
         WHERE x.objsubid <> 0 AND x.classid = 'pg_catalog.pg_class'::regclass AND a.attrelid = x.objid AND a.attnum = x.objsubid) AS column_name,
       ${tagSql('x')}
  FROM dropped x`;

/**
 * How pg_dump names an object in the tags of its comment, grant and security label entries
 * (`TABLE "Order Items"`, `FUNCTION f(integer)`), its schema, and its plain name (partition
 * and index attachment entries, sequence ownership).
 */
function tagSql(x: string): string {
  return `
  CASE ${x}.classid
    WHEN 'pg_catalog.pg_class'::regclass THEN (SELECT n.nspname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ${x}.objid)
    WHEN 'pg_catalog.pg_type'::regclass THEN (SELECT n.nspname FROM pg_catalog.pg_type y JOIN pg_catalog.pg_namespace n ON n.oid = y.typnamespace WHERE y.oid = ${x}.objid)
    WHEN 'pg_catalog.pg_proc'::regclass THEN (SELECT n.nspname FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = ${x}.objid)
    WHEN 'pg_catalog.pg_namespace'::regclass THEN '-'
  END AS schema,
  CASE ${x}.classid
    WHEN 'pg_catalog.pg_class'::regclass THEN (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = ${x}.objid)
  END AS plain_name,
  CASE ${x}.classid
    WHEN 'pg_catalog.pg_class'::regclass THEN (
      SELECT CASE WHEN ${x}.objsubid <> 0
                  THEN 'COLUMN ' || pg_catalog.quote_ident(c.relname) || '.' || pg_catalog.quote_ident((SELECT a.attname FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum = ${x}.objsubid))
                  ELSE CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE'
                                      WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'i' THEN 'INDEX' WHEN 'I' THEN 'INDEX' ELSE 'TABLE' END
                       || ' ' || pg_catalog.quote_ident(c.relname) END
        FROM pg_catalog.pg_class c WHERE c.oid = ${x}.objid)
    WHEN 'pg_catalog.pg_type'::regclass THEN (
      SELECT CASE y.typtype WHEN 'd' THEN 'DOMAIN ' ELSE 'TYPE ' END || pg_catalog.quote_ident(y.typname) FROM pg_catalog.pg_type y WHERE y.oid = ${x}.objid)
    WHEN 'pg_catalog.pg_proc'::regclass THEN (
      SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE ' WHEN 'a' THEN 'AGGREGATE ' ELSE 'FUNCTION ' END
             || pg_catalog.quote_ident(p.proname) || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')'
        FROM pg_catalog.pg_proc p WHERE p.oid = ${x}.objid)
    WHEN 'pg_catalog.pg_namespace'::regclass THEN (SELECT 'SCHEMA ' || pg_catalog.quote_ident(n.nspname) FROM pg_catalog.pg_namespace n WHERE n.oid = ${x}.objid)
  END AS tag`;
}

interface Home {
  classid: string;
  objid: string;
  nsp: string | null;
  owner: string | null;
  relkind: string | null;
}

export interface DroppedRow {
  classid: string;
  objid: string;
  objsubid: number;
  description: string | null;
  /** For a column (objsubid > 0 of a relation): its name. */
  column_name: string | null;
  schema: string | null;
  plain_name: string | null;
  tag: string | null;
}

const objKey = (classid: number | string, objid: number | string) => `${classid}/${objid}`;

/** TOC entries name objects by catalog id; a materialized view's data entry has only its oid. */
function entryObject(e: TocEntry): { classid: number; objid: number } | undefined {
  if (e.classId !== 0) return { classid: e.classId, objid: e.objectId };
  if (e.objectId !== 0 && e.desc.startsWith('MATERIALIZED VIEW DATA ')) return { classid: CLASS.pg_class, objid: e.objectId };
  return undefined;
}

/**
 * Computes the filter for a dump's entries. `everything` (no include list) also keeps objects
 * that live in no schema (casts, event triggers, languages) unless they depend on something
 * left out.
 */
export async function planSchemaFilter(source: Client, selection: Selection & { catalog: CatalogRow[] }, entries: TocEntry[], everything: boolean): Promise<SchemaFilter> {
  const objects = new Map<string, { classid: number; objid: number }>();
  for (const e of entries) {
    const o = entryObject(e);
    if (o) objects.set(objKey(o.classid, o.objid), o);
  }
  const list = [...objects.values()];
  const { rows: homes } = await source.query<Home>(HOME_SQL, [list.map((o) => o.classid), list.map((o) => o.objid)]);

  const oidByTable = new Map(selection.catalog.map((t) => [tableKey(t), t.oid]));
  const selectedOids = new Set(selection.tables.map((t) => oidByTable.get(tableKey(t))!));
  const { rows: schemaRows } = await source.query<{ oid: string }>('SELECT oid::int8 AS oid FROM pg_catalog.pg_namespace WHERE nspname = ANY($1)', [selection.wholeSchemas]);
  const wholeSchemaOids = new Set(schemaRows.map((r) => r.oid));
  const { rows: needRows } = await source.query<{ classid: string; objid: string }>(NEEDS_SQL, [[...selectedOids]]);
  const needed = new Set(needRows.map((r) => objKey(r.classid, r.objid)));

  const homeOf = new Map(homes.map((h) => [objKey(h.classid, h.objid), h]));
  const wanted = new Set<string>();
  const isWanted = (h: Home, depth = 0): boolean => {
    const key = objKey(h.classid, h.objid);
    if (needed.has(key)) return true;
    if (Number(h.classid) === CLASS.pg_extension) return true;
    if (Number(h.classid) === CLASS.pg_class && (h.relkind === 'r' || h.relkind === 'p')) return selectedOids.has(Number(h.objid));
    if (h.owner !== null) {
      const owner = homeOf.get(objKey(CLASS.pg_class, h.owner));
      if (selectedOids.has(Number(h.owner))) return true;
      return owner !== undefined && depth < 4 && isWanted(owner, depth + 1);
    }
    if (h.nsp !== null) return wholeSchemaOids.has(h.nsp);
    return everything;
  };
  for (const h of homes) if (Number(h.classid) !== CLASS.pg_namespace && isWanted(h)) wanted.add(objKey(h.classid, h.objid));
  // A schema is created when selected as a whole or when anything wanted lives in it.
  const usedSchemas = new Set(homes.filter((h) => wanted.has(objKey(h.classid, h.objid)) && h.nsp !== null).map((h) => h.nsp));
  for (const h of homes) if (Number(h.classid) === CLASS.pg_namespace && (wholeSchemaOids.has(h.objid) || usedSchemas.has(h.objid))) wanted.add(objKey(h.classid, h.objid));

  // Seeds: objects of the dump that are not wanted, and the excluded columns.
  const seeds: Array<[number, number, number]> = list.filter((o) => !wanted.has(objKey(o.classid, o.objid))).map((o) => [o.classid, o.objid, 0]);
  seeds.push(...(await columnSeeds(source, selection, oidByTable)));
  seeds.push(...(await foreignKeysToFilteredTables(source, selection, oidByTable)));
  const { rows: dropped } = await source.query<DroppedRow>(DROPPED_SQL, [seeds.map((s) => s[0]), seeds.map((s) => s[1]), seeds.map((s) => s[2])]);

  const droppedObjects = new Set(dropped.filter((d) => d.objsubid === 0).map((d) => objKey(d.classid, d.objid)));
  const droppedNames = new DroppedNames(dropped);
  const skip = entries.filter((e) => {
    const o = entryObject(e);
    return o ? droppedObjects.has(objKey(o.classid, o.objid)) : droppedNames.has(e);
  });

  // Columns of kept tables that go: the excluded ones, and generated columns computed from them.
  const dropColumns = new Map<string, { schema: string; name: string; columns: string[] }>();
  const keptTableOids = new Map<number, CatalogRow>();
  for (const t of selection.catalog) if (selectedOids.has(t.oid) && !droppedObjects.has(objKey(CLASS.pg_class, t.oid))) keptTableOids.set(t.oid, t);
  for (const d of dropped) {
    const column = d.column_name;
    const table = column === null ? undefined : keptTableOids.get(Number(d.objid));
    if (!table || !column || table.root) continue; // partitions lose the column with their partitioned table
    const entry = dropColumns.get(tableKey(table)) ?? { schema: table.schema, name: table.name, columns: [] };
    entry.columns.push(column);
    dropColumns.set(tableKey(table), entry);
  }

  // Seeds that were wanted (foreign keys to filtered tables) are reported like dependents.
  const seedKeys = new Set(seeds.filter((s) => !wanted.has(objKey(s[0], s[1])) || s[2] !== 0).map((s) => `${s[0]}/${s[1]}/${s[2]}`));
  const leftOutByDependency = dropped
    .filter((d) => !seedKeys.has(`${d.classid}/${d.objid}/${d.objsubid}`) && (wanted.has(objKey(d.classid, d.objid)) || (d.objsubid !== 0 && keptTableOids.has(Number(d.objid)))))
    .filter((d) => objects.has(objKey(d.classid, d.objid)) || d.objsubid !== 0)
    .map((d) => d.description ?? `${d.classid}/${d.objid}`);
  const selectedSchemas = new Set(homes.filter((h) => selectedOids.has(Number(h.objid)) && Number(h.classid) === CLASS.pg_class).map((h) => h.nsp));
  const notSelected = dropped
    .filter((d) => d.objsubid === 0 && seedKeys.has(`${d.classid}/${d.objid}/0`))
    .filter((d) => {
      const h = homeOf.get(objKey(d.classid, d.objid));
      return h !== undefined && h.nsp !== null && selectedSchemas.has(h.nsp) && !wholeSchemaOids.has(h.nsp) && !(h.relkind === 'r' || h.relkind === 'p') && h.owner === null;
    })
    .map((d) => d.description ?? `${d.classid}/${d.objid}`);
  return { skip: skip.map((e) => e.dumpId), dropColumns: [...dropColumns.values()], leftOutByDependency: [...new Set(leftOutByDependency)], notSelected };
}

/**
 * Foreign keys that point at a table with a row filter: the rows they reference may be filtered
 * out, so the key could not be valid on the target. They are left out (and reported).
 */
async function foreignKeysToFilteredTables(source: Client, selection: Selection & { catalog: CatalogRow[] }, oidByTable: Map<string, number>): Promise<Array<[number, number, number]>> {
  const filtered = new Set<number>();
  for (const t of selection.tables) {
    if (!t.where) continue;
    filtered.add(oidByTable.get(tableKey(t))!);
    const root = selection.catalog.find((c) => c.schema === t.schema && c.name === t.name)?.root;
    if (root) filtered.add(oidByTable.get(tableKey(root))!);
  }
  if (!filtered.size) return [];
  const { rows } = await source.query<{ oid: string }>(`SELECT oid::int8 AS oid FROM pg_catalog.pg_constraint WHERE contype = 'f' AND confrelid = ANY($1)`, [[...filtered]]);
  return rows.map((r) => [CLASS.pg_constraint, Number(r.oid), 0]);
}

/** (pg_class, table, attnum) for every excluded column of a selected table. */
async function columnSeeds(source: Client, selection: Selection, oidByTable: Map<string, number>): Promise<Array<[number, number, number]>> {
  const wanted = selection.tables.filter((t) => t.excludedColumns.length);
  if (!wanted.length) return [];
  const { rows } = await source.query<{ attrelid: string; attnum: number }>(
    `SELECT a.attrelid::int8, a.attnum FROM pg_catalog.pg_attribute a
       JOIN unnest($1::oid[], $2::text[]) AS x(rel, col) ON a.attrelid = x.rel AND a.attname = x.col`,
    [wanted.flatMap((t) => t.excludedColumns.map(() => oidByTable.get(tableKey(t))!)), wanted.flatMap((t) => t.excludedColumns)],
  );
  return rows.map((r) => [CLASS.pg_class, Number(r.attrelid), r.attnum]);
}

/**
 * Entries without a catalog id name their object in their tag: `COMMENT <schema> TABLE "x"`,
 * `ACL <schema> COLUMN "x".y`, `TABLE ATTACH <schema> <partition>`, `INDEX ATTACH <schema>
 * <index>`, `SEQUENCE OWNED BY <schema> <sequence>`, each followed by the owner. The dropped
 * objects' names are put in sets once; an entry is then looked up at each space (and, for
 * column tags, each dot) of its text: no scan of every dropped object per entry.
 */
export class DroppedNames {
  /** `<schema> <tag>` of dropped objects and columns (comments, grants, security labels). */
  private readonly tagged = new Set<string>();
  /** `<schema> COLUMN <table>` of dropped tables: their columns' comments and grants go too. */
  private readonly tableColumns = new Set<string>();
  /** `<schema> <plain name>` of dropped relations (attachments, sequence ownership). */
  private readonly plain = new Set<string>();

  constructor(dropped: DroppedRow[]) {
    for (const d of dropped) {
      if (d.schema === null) continue;
      if (d.tag !== null) this.tagged.add(`${d.schema} ${d.tag}`);
      if (d.objsubid !== 0) continue;
      if (d.plain_name !== null) this.plain.add(`${d.schema} ${d.plain_name}`);
      if (d.tag?.startsWith('TABLE ')) this.tableColumns.add(`${d.schema} COLUMN ${d.tag.slice(6)}`);
    }
  }

  has(e: TocEntry): boolean {
    const m = /^(COMMENT|ACL|SECURITY LABEL|TABLE ATTACH|INDEX ATTACH|SEQUENCE OWNED BY) (.*)$/.exec(e.desc);
    if (!m) return false;
    const [, kind, rest] = m;
    const names = kind === 'TABLE ATTACH' || kind === 'INDEX ATTACH' || kind === 'SEQUENCE OWNED BY' ? this.plain : this.tagged;
    if (names.has(rest)) return true; // no owner after the name
    for (let i = rest.indexOf(' '); i >= 0; i = rest.indexOf(' ', i + 1)) {
      if (names.has(rest.slice(0, i))) return true;
    }
    if (names === this.tagged) {
      for (let i = rest.indexOf('.'); i >= 0; i = rest.indexOf('.', i + 1)) {
        if (this.tableColumns.has(rest.slice(0, i))) return true;
      }
    }
    return false;
  }
}
