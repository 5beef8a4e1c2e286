/**
 * A source snapshot at a known position, taken without leaving anything on the source: a
 * TEMPORARY logical slot created with an exported snapshot. Its consistent point L is exact
 * (the snapshot sees every transaction whose commit record starts before L, none after), the
 * snapshot stays importable (`SET TRANSACTION SNAPSHOT`) while the replication connection is
 * open and idle, and the slot goes when that connection closes: a crashed verifier leaves no
 * slot holding WAL. https://www.postgresql.org/docs/15/protocol-replication.html
 *
 * Creating a logical slot waits for the source's transactions running at that moment to end:
 * a long transaction on the source delays verification (not the stream).
 */
import type { Client } from 'pg';
import type { ResolvedConnection } from '../credentials';
import { closeQuietly, openReplicationClient } from '../db';

export interface ConsistentPoint {
  lsn: string;
  snapshot: string;
  slot: string;
  /** Holds the snapshot (and the temporary slot): close it when done. */
  connection: Client;
}

export async function takeConsistentPoint(source: ResolvedConnection, slot: string): Promise<ConsistentPoint> {
  if (!/^[a-z0-9_]{1,63}$/.test(slot)) throw new Error(`invalid slot name ${JSON.stringify(slot)}`);
  const connection = await openReplicationClient(source, 'verify');
  try {
    const { rows } = await connection.query<{ consistent_point: string; snapshot_name: string }>(`CREATE_REPLICATION_SLOT ${slot} TEMPORARY LOGICAL pgoutput (SNAPSHOT 'export')`);
    return { lsn: rows[0].consistent_point, snapshot: rows[0].snapshot_name, slot, connection };
  } catch (err) {
    await closeQuietly(connection);
    throw err;
  }
}
