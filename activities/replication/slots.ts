/**
 * Dropping replication slots. A slot holds WAL on the source until it is dropped, so every
 * path out of an incremental migration (cutover, failure, cancel) ends here; a slot still in
 * use by a stream (a worker that has not noticed the end yet) is freed by ending that stream.
 */
import type { Client } from 'pg';
import type { ResolvedConnection } from '../credentials';
import { closeQuietly, openSourceAdminClient } from '../db';

/** Drops the named slots that exist, ending any connection still streaming from them. */
export async function dropSlots(client: Client, names: string[]): Promise<string[]> {
  const dropped: string[] = [];
  for (const name of names) {
    for (let attempt = 0; ; attempt += 1) {
      const { rows } = await client.query<{ active_pid: number | null }>('SELECT active_pid FROM pg_catalog.pg_replication_slots WHERE slot_name = $1', [name]);
      if (!rows.length) break;
      if (rows[0].active_pid) await client.query('SELECT pg_catalog.pg_terminate_backend($1)', [rows[0].active_pid]);
      try {
        await client.query('SELECT pg_catalog.pg_drop_replication_slot($1)', [name]);
        dropped.push(name);
        break;
      } catch (err) {
        // 55006: still active (the terminated walsender has not exited yet); 42704: gone meanwhile.
        const code = (err as { code?: string }).code;
        if (code === '42704') break;
        if (code !== '55006' || attempt >= 50) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
  return dropped;
}

/** Slots whose name starts with a prefix (all of one migration's). */
export async function slotsWithPrefix(client: Client, prefix: string): Promise<string[]> {
  const { rows } = await client.query<{ slot_name: string }>(
    `SELECT slot_name FROM pg_catalog.pg_replication_slots WHERE left(slot_name, length($1)) = $1 ORDER BY 1`,
    [prefix],
  );
  return rows.map((r) => r.slot_name);
}

export async function dropSlotIfExists(source: ResolvedConnection, name: string): Promise<void> {
  const client = await openSourceAdminClient(source, 'slots');
  try {
    await dropSlots(client, [name]);
  } finally {
    await closeQuietly(client);
  }
}
