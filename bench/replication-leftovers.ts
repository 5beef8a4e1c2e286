/**
 * Replication slots and publications an incremental migration leaves on the source. After a
 * cutover there should be none: a slot left behind holds WAL forever. Each run starts clean,
 * so what one leaves is reported and then dropped.
 */
import type { PgCluster } from '../launch/postgres';

export async function replicationLeftovers(source: PgCluster, db: string): Promise<string[]> {
  const slots = await source.query<{ name: string; active: boolean }>('SELECT slot_name AS name, active FROM pg_replication_slots WHERE database = $1', 'postgres', [db]);
  const publications = await source.query<{ name: string }>('SELECT pubname AS name FROM pg_publication', db);
  return [...slots.map((s) => `slot ${s.name}${s.active ? ' (active)' : ''}`), ...publications.map((p) => `publication ${p.name}`)];
}

/** Waits `graceMs` for walsenders that are exiting; returns what was left, after dropping it. */
export async function dropReplicationLeftovers(source: PgCluster, db: string, graceMs = 5_000): Promise<string[]> {
  const deadline = Date.now() + graceMs;
  let left = await replicationLeftovers(source, db);
  while (left.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    left = await replicationLeftovers(source, db);
  }
  for (let i = 0; i < 50; i += 1) {
    const slots = await source.query<{ name: string; active: boolean }>('SELECT slot_name AS name, active FROM pg_replication_slots WHERE database = $1', 'postgres', [db]);
    if (!slots.length) break;
    for (const s of slots.filter((s) => !s.active)) await source.query('SELECT pg_drop_replication_slot($1)', 'postgres', [s.name]).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200)); // an active slot's walsender is on its way out
  }
  for (const p of await source.query<{ name: string }>('SELECT pubname AS name FROM pg_publication', db)) {
    await source.query(`DROP PUBLICATION IF EXISTS "${p.name.replace(/"/g, '""')}"`, db);
  }
  return left;
}
