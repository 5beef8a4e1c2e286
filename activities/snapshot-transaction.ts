/**
 * Reading "as of the copy snapshot": a transaction that imports the snapshot holdSnapshot
 * exported (snapshot.ts: `pg_export_snapshot()`, or a replication slot's), so that what it
 * reads (the table list, split bounds, index statements, large objects, the selection, the
 * rows themselves) matches the data every copy reads. The import must be the transaction's
 * first statement and needs REPEATABLE READ; a snapshot whose holder is gone fails here with
 * "invalid snapshot identifier", which errors.ts turns into SnapshotLost.
 * https://www.postgresql.org/docs/current/sql-set-transaction.html
 */
import type { Client } from 'pg';
import { quoteLiteral } from './db';

export async function beginUnderSnapshot(client: Client, snapshot: string): Promise<void> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  await client.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(snapshot)}`);
}
