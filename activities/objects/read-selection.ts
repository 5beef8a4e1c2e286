/**
 * Reads what common/selection.ts needs from the source catalog (tables, partitions, columns,
 * schemas) and applies the spec's `objects` section to it.
 */
import type { Client } from 'pg';
import type { ObjectsSpec } from '../../common/objects-spec';
import { needsColumns, selectTables, type CatalogTable, type Selection } from '../../common/selection';

/** User tables (plain and partitioned; partitions name their root), as USER_TABLES_SQL excludes. */
const CATALOG_SQL = `
  SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name, c.relkind = 'p' AS partitioned,
         rn.nspname AS root_schema, r.relname AS root_name,
         CASE WHEN $1 THEN (SELECT pg_catalog.array_agg(a.attname::text ORDER BY a.attnum) FROM pg_catalog.pg_attribute a
                             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) END AS columns
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_catalog.pg_class r ON c.relispartition AND r.oid = pg_catalog.pg_partition_root(c.oid)
    LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = r.relnamespace
   WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't'
     AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_pgferry')
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                      WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
   ORDER BY 2, 3`;

export const USER_SCHEMAS_SQL = `
  SELECT n.nspname AS name FROM pg_catalog.pg_namespace n
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', '_pgferry')
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                      WHERE d.classid = 'pg_catalog.pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')
   ORDER BY 1`;

export interface CatalogRow extends CatalogTable {
  oid: number;
}

export async function readCatalogTables(client: Client, withColumns: boolean): Promise<CatalogRow[]> {
  const { rows } = await client.query<{ oid: string; schema: string; name: string; partitioned: boolean; root_schema: string | null; root_name: string | null; columns: string[] | null }>(CATALOG_SQL, [withColumns]);
  return rows.map((r) => {
    const t: CatalogRow = { oid: Number(r.oid), schema: r.schema, name: r.name, partitioned: r.partitioned };
    if (r.root_schema !== null && r.root_name !== null) t.root = { schema: r.root_schema, name: r.root_name };
    if (r.columns) t.columns = r.columns;
    return t;
  });
}

/** The selection on this source (read in the caller's transaction, e.g. under the snapshot). */
export async function readSelection(client: Client, objects: ObjectsSpec, conflicts: 'error' | 'ignore'): Promise<Selection & { catalog: CatalogRow[] }> {
  const catalog = await readCatalogTables(client, needsColumns(objects));
  const { rows } = await client.query<{ name: string }>(USER_SCHEMAS_SQL);
  return { ...selectTables(objects, catalog, rows.map((r) => r.name), conflicts), catalog };
}
