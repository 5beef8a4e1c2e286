/**
 * Precheck items for the way back (spec incremental.wayBack): the cutover makes a publication
 * and a logical slot on the target and streams from it, so the target needs what the source
 * needs for the forward stream. Checked up front: found out at cutover, it would be too late.
 */
import type { Client } from 'pg';
import type { CheckItem } from '../../common/plan';
import { fail, pass } from './items';

export async function wayBackChecks(tgt: Client): Promise<CheckItem[]> {
  const { rows } = await tgt.query<{ level: string; privileged: boolean; who: string; slots: string; slots_used: string; senders: string; senders_used: string }>(
    `SELECT current_setting('wal_level') AS level,
            (SELECT rolreplication OR rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) AS privileged, current_user AS who,
            current_setting('max_replication_slots') AS slots, (SELECT count(*) FROM pg_catalog.pg_replication_slots) AS slots_used,
            current_setting('max_wal_senders') AS senders, (SELECT count(*) FROM pg_catalog.pg_stat_replication) AS senders_used`,
  );
  const r = rows[0];
  const off = 'or set incremental.wayBack: false to migrate without a way back';
  return [
    r.level === 'logical'
      ? pass('way-back-wal-level', 'The target has wal_level = logical, which the way back needs (a slot on the target after cutover).')
      : fail('way-back-wal-level', `The target has wal_level = ${r.level}; the way back streams the target's changes back with logical decoding, which needs logical.`, `Set wal_level = logical on the target (ALTER SYSTEM SET wal_level = logical) and restart it, ${off}.`),
    r.privileged
      ? pass('way-back-privilege', `The target user ${r.who} may use logical replication (the way back's slot).`)
      : fail('way-back-privilege', `The target user ${r.who} has neither REPLICATION nor SUPERUSER, which the way back's slot on the target needs.`, `ALTER ROLE ${r.who} REPLICATION on the target, ${off}.`),
    Number(r.slots) - Number(r.slots_used) >= 1 && Number(r.senders) - Number(r.senders_used) >= 1
      ? pass('way-back-capacity', 'The target has a free replication slot and WAL sender for the way back.')
      : fail('way-back-capacity', `The target has no free replication slot or WAL sender (slots ${r.slots_used} of ${r.slots} used, senders ${r.senders_used} of ${r.senders}).`, `Raise max_replication_slots / max_wal_senders on the target (restart needed) or drop an unused slot, ${off}.`),
  ];
}
