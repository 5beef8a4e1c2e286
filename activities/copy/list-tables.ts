/**
 * Lists the source tables that hold data (plain tables and leaf partitions; a partitioned
 * parent has no rows of its own), read under the copy snapshot so the list matches the data.
 */
import type { Client } from 'pg';
import type { TableRef } from '../../common/plan';
import { closeQuietly, openClient, quoteLiteral } from '../db';
import { resolveBoth, type ActivityDeps, type Endpoints } from '../deps';
import { guarded } from '../errors';

export const USER_TABLES_SQL = `
  SELECT n.nspname AS schema, c.relname AS name, pg_catalog.pg_table_size(c.oid)::bigint AS bytes
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind = 'r'
     AND c.relpersistence <> 't'
     AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_pgferry')
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
     -- tables that belong to an extension are created by CREATE EXTENSION on the target
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                      WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
   ORDER BY 1, 2`;

export interface ListTablesInput extends Endpoints {
  snapshot: string;
}

export function makeListTables(deps: ActivityDeps) {
  return async function listTables(input: ListTablesInput): Promise<TableRef[]> {
    const { source, target, secrets } = resolveBoth(deps, input);
    let src: Client | undefined;
    let tgt: Client | undefined;
    try {
      return await guarded({ doing: `list tables of source ${source.label}`, secrets, retry: input.retry }, async () => {
        src = await openClient(source, 'plan');
        await src.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        await src.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(input.snapshot)}`);
        const { rows } = await src.query<{ schema: string; name: string; bytes: string }>(USER_TABLES_SQL);
        await src.query('COMMIT');
        tgt = await openClient(target, 'plan');
        const existing = await existingTables(tgt);
        return rows.map((r) => {
          const ref: TableRef = { schema: r.schema, name: r.name, estimatedBytes: Number(r.bytes) };
          if (existing.has(JSON.stringify([r.schema, r.name]))) ref.preexisting = true;
          return ref;
        });
      });
    } finally {
      await closeQuietly(src);
      await closeQuietly(tgt);
    }
  };
}

/** Tables already in the target, as JSON [schema, name] keys. */
export async function existingTables(client: Client): Promise<Set<string>> {
  const { rows } = await client.query<{ schema: string; name: string }>(USER_TABLES_SQL);
  return new Set(rows.map((r) => JSON.stringify([r.schema, r.name])));
}
