/**
 * What pre-data and post-data create besides the tables, counted per source schema from the
 * catalog: what hangs off the selected tables (indexes, constraints, triggers) everywhere, and
 * a whole schema's own objects (views, sequences, functions, types) where it is selected as a
 * whole. A count, not the dump's exact list: objects left out by a dependency on something not
 * migrated (schema-filter.ts) are counted here and named by the precheck and the report.
 */
import type { Client } from 'pg';
import type { PlannedTable } from '../../common/migration-plan';

const TABLE_OBJECTS_SQL = `
  WITH t(schema, name) AS (SELECT * FROM unnest($1::text[], $2::text[])),
       rel AS (SELECT c.oid, t.schema FROM t JOIN pg_catalog.pg_namespace n ON n.nspname = t.schema
                 JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = t.name)
  SELECT rel.schema, 'indexes' AS kind, count(*) AS n FROM rel JOIN pg_catalog.pg_index i ON i.indrelid = rel.oid GROUP BY 1
  UNION ALL
  SELECT rel.schema, CASE k.contype WHEN 'f' THEN 'foreign keys' ELSE 'constraints' END, count(*)
    FROM rel JOIN pg_catalog.pg_constraint k ON k.conrelid = rel.oid WHERE k.contype IN ('c', 'f', 'p', 'u', 'x') GROUP BY 1, 2
  UNION ALL
  SELECT rel.schema, 'triggers', count(*) FROM rel JOIN pg_catalog.pg_trigger g ON g.tgrelid = rel.oid WHERE NOT g.tgisinternal GROUP BY 1`;

const SCHEMA_OBJECTS_SQL = `
  SELECT n.nspname AS schema, CASE c.relkind WHEN 'v' THEN 'views' WHEN 'm' THEN 'materialized views' ELSE 'sequences' END AS kind, count(*) AS n
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = ANY($1) AND c.relkind IN ('v', 'm', 'S')
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
   GROUP BY 1, 2
  UNION ALL
  SELECT n.nspname, 'functions', count(*) FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname = ANY($1)
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
   GROUP BY 1
  UNION ALL
  SELECT n.nspname, 'types', count(*) FROM pg_catalog.pg_type y JOIN pg_catalog.pg_namespace n ON n.oid = y.typnamespace
   WHERE n.nspname = ANY($1)
     AND (y.typtype IN ('e', 'd', 'r', 'm') OR (y.typtype = 'c' AND (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = y.typrelid) = 'c'))
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_type'::regclass AND d.objid = y.oid AND d.deptype = 'e')
   GROUP BY 1`;

/** Per source schema: kind of object → how many. */
export async function objectCounts(src: Client, tables: PlannedTable[], wholeSchemas: Set<string>): Promise<Map<string, Record<string, number>>> {
  const out = new Map<string, Record<string, number>>();
  const add = (rows: Array<{ schema: string; kind: string; n: string }>) => {
    for (const r of rows) {
      const counts = out.get(r.schema) ?? {};
      counts[r.kind] = (counts[r.kind] ?? 0) + Number(r.n);
      out.set(r.schema, counts);
    }
  };
  const onTables = await src.query<{ schema: string; kind: string; n: string }>(TABLE_OBJECTS_SQL, [tables.map((t) => t.schema), tables.map((t) => t.name)]);
  add(onTables.rows);
  if (wholeSchemas.size) add((await src.query<{ schema: string; kind: string; n: string }>(SCHEMA_OBJECTS_SQL, [[...wholeSchemas]])).rows);
  return out;
}
