/**
 * While an incremental migration with DDL replication copies its tables, DDL on the source
 * waits: the DDL capture's `ddl_command_start` trigger takes a shared advisory lock that the
 * copy's snapshot holder keeps exclusively until the copy is done. The DDL waits there before it
 * locks any table, so the application's queries go on, the copy never meets a table changed
 * under its snapshot (a dropped column or renamed table would fail it; a rewrite by ALTER COLUMN
 * TYPE would show the old snapshot an empty table), and once the copy is done the DDL commits
 * and reaches the target through the stream, in order.
 *
 * A DDL that committed between the snapshot and the gate escaped it: the tables' definitions
 * under the snapshot are compared with the current ones once the gate is held, and a
 * difference fails this attempt (the retry exports a new snapshot).
 */
import type { Client } from 'pg';
import { ddlCaptureNames } from '../../common/ddl';
import type { ReplicationNames } from '../../common/replication-names';
import type { ResolvedConnection } from '../credentials';
import { closeQuietly, openClient } from '../db';
import { beginUnderSnapshot } from '../snapshot-transaction';

/** Every user table's identity and columns (read under whatever snapshot the session has). */
const TABLE_SHAPES_SQL = `
SELECT c.oid::int8::text AS oid, pg_catalog.format('%I.%I', n.nspname, c.relname) AS name,
       c.relfilenode::text || ':' || coalesce((SELECT string_agg(a.attname || ' ' || a.atttypid || ' ' || a.atttypmod, ',' ORDER BY a.attnum)
                                    FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '') AS shape
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'p'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'`;

type Shape = { oid: string; name: string; shape: string };

/** Holds the gate in a session of its own; close the returned client to open it. */
export async function holdDdlGate(source: ResolvedConnection, names: ReplicationNames, snapshot: string): Promise<Client> {
  const [k1, k2] = ddlCaptureNames(names).gateLock;
  const client = await openClient(source, 'ddl-gate');
  try {
    // Waits for DDL that passed the gate before (it holds the shared lock until it commits).
    await client.query('SELECT pg_catalog.pg_advisory_lock($1, $2)', [k1, k2]);
    await beginUnderSnapshot(client, snapshot);
    const { rows: before } = await client.query<Shape>(TABLE_SHAPES_SQL);
    await client.query('COMMIT');
    const { rows: now } = await client.query<Shape>(TABLE_SHAPES_SQL);
    const current = new Map(now.map((r) => [r.oid, r]));
    const changed = before.find((t) => current.get(t.oid)?.shape !== t.shape || current.get(t.oid)?.name !== t.name);
    if (changed) throw new Error(`table ${changed.name} changed on the source between the snapshot and the DDL gate; a new snapshot is taken`);
    return client;
  } catch (err) {
    await closeQuietly(client);
    throw err;
  }
}
