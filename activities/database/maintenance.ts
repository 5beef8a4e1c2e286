/**
 * The target server's maintenance database: where pgferry goes, with the target's own user and
 * credentials, when the target database does not exist yet (to check and to create it).
 */
import type { Client } from 'pg';
import type { ResolvedConnection } from '../credentials';
import { openClient } from '../db';

/** Tried in this order, as createdb and psql -l do. */
export const MAINTENANCE_DATABASES = ['postgres', 'template1'] as const;

/** A connection to `postgres`, else `template1`; throws the last error when neither accepts it. */
export async function openMaintenanceClient(conn: ResolvedConnection, purpose: string): Promise<Client> {
  let lastError: unknown;
  for (const database of MAINTENANCE_DATABASES) {
    try {
      return await openClient({ ...conn, pgConfig: { ...conn.pgConfig, database } }, purpose);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

export async function databaseExists(client: Client, name: string): Promise<boolean> {
  const { rows } = await client.query('SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1', [name]);
  return rows.length > 0;
}
