/**
 * Precheck items for incremental migrations (change data capture): what logical replication
 * needs on the source, and what applying changes needs on the target. Each says what to do.
 */
import type { Client } from 'pg';
import { displayName, type CheckItem } from '../../common/plan';
import { USER_TABLES_SQL } from '../copy/list-tables';
import { qualified } from '../db';
import type { OperationsConfig } from '../../common/stream';
import { fail, listSome, note, pass } from './items';

type Table = { schema: string; name: string };


export async function incrementalChecks(src: Client, tgt: Client, operations?: OperationsConfig): Promise<CheckItem[]> {
  return [
    await checkWalLevel(src),
    ...(await checkReplicationCapacity(src)),
    await checkReplicationPrivilege(src),
    await checkPublicationPrivilege(src),
    await checkReplicaIdentity(src, operations),
    await checkUnlogged(src),
    await checkApplyPrivilege(tgt),
  ];
}

async function setting(c: Client, name: string): Promise<string> {
  const { rows } = await c.query<{ v: string }>('SELECT current_setting($1) AS v', [name]);
  return rows[0].v;
}

async function checkWalLevel(src: Client): Promise<CheckItem> {
  const level = await setting(src, 'wal_level');
  return level === 'logical'
    ? pass('wal-level', 'The source has wal_level = logical.')
    : fail('wal-level', `The source has wal_level = ${level}; logical decoding needs logical.`, 'Set wal_level = logical on the source (ALTER SYSTEM SET wal_level = logical) and restart it.');
}

async function checkReplicationCapacity(src: Client): Promise<CheckItem[]> {
  const { rows } = await src.query<{ slots: string; slots_used: string; senders: string; senders_used: string }>(
    `SELECT current_setting('max_replication_slots') AS slots,
            (SELECT count(*) FROM pg_catalog.pg_replication_slots) AS slots_used,
            current_setting('max_wal_senders') AS senders,
            (SELECT count(*) FROM pg_catalog.pg_stat_replication) AS senders_used`,
  );
  const r = rows[0];
  const freeSlots = Number(r.slots) - Number(r.slots_used);
  const freeSenders = Number(r.senders) - Number(r.senders_used);
  // The stream takes one of each; a verification round (pgferry verify) one more for a moment,
  // for the temporary slot whose snapshot it compares at.
  const forVerify = 'A verification round (pgferry verify, incremental.verify) needs one more for a moment, for its temporary slot: with only one free, rounds fail until one is';
  return [
    freeSlots >= 2
      ? pass('replication-slots', `${freeSlots} of ${r.slots} replication slots are free on the source.`)
      : freeSlots === 1
        ? note('replication-slots', `1 of ${r.slots} replication slots is free on the source: enough for the change stream.`, `${forVerify} (raise max_replication_slots, restart needed, or drop an unused slot).`)
        : fail('replication-slots', `All ${r.slots} replication slots of the source are in use.`, 'Raise max_replication_slots on the source (restart needed) or drop an unused slot (see pg_replication_slots).'),
    freeSenders >= 2
      ? pass('wal-senders', `${freeSenders} of ${r.senders} WAL senders are free on the source.`)
      : freeSenders === 1
        ? note('wal-senders', `1 of ${r.senders} WAL senders is free on the source: enough for the change stream.`, `${forVerify} (raise max_wal_senders, restart needed).`)
        : fail('wal-senders', `All ${r.senders} WAL senders of the source are in use.`, 'Raise max_wal_senders on the source (restart needed).'),
  ];
}

async function checkReplicationPrivilege(src: Client): Promise<CheckItem> {
  const { rows } = await src.query<{ ok: boolean; who: string }>(
    'SELECT (rolreplication OR rolsuper) AS ok, rolname AS who FROM pg_catalog.pg_roles WHERE rolname = current_user',
  );
  return rows[0].ok
    ? pass('replication-privilege', `The source user ${rows[0].who} may use logical replication.`)
    : fail('replication-privilege', `The source user ${rows[0].who} has neither REPLICATION nor SUPERUSER.`, `ALTER ROLE ${rows[0].who} REPLICATION on the source (and allow it in pg_hba.conf for replication connections to the database).`);
}

/** CREATE PUBLICATION ... FOR TABLE needs CREATE on the database and ownership of each table. */
async function checkPublicationPrivilege(src: Client): Promise<CheckItem> {
  const { rows } = await src.query<{ can_create: boolean; superuser: boolean }>(
    `SELECT pg_catalog.has_database_privilege(current_database(), 'CREATE') AS can_create,
            (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) AS superuser`,
  );
  if (rows[0].superuser) return pass('publication-privilege', 'The source user is a superuser and may create the publication.');
  const notOwned = await src.query<Table>(
    `SELECT t.schema, t.name FROM (${USER_TABLES_SQL}) t
      WHERE NOT pg_catalog.pg_has_role((SELECT relowner FROM pg_catalog.pg_class WHERE oid = pg_catalog.format('%I.%I', t.schema, t.name)::regclass), 'USAGE')`,
  );
  const names = notOwned.rows.map(displayName);
  if (!rows[0].can_create) {
    return fail('publication-privilege', 'The source user may not create a publication (no CREATE privilege on the database).', 'GRANT CREATE ON DATABASE to the source user.');
  }
  return names.length
    ? fail('publication-privilege', `The source user does not own ${names.length} table(s), which a publication needs: ${listSome(names)}.`, 'Run the migration as the tables\' owner (or a member of the owning role) or a superuser.')
    : pass('publication-privilege', 'The source user may create a publication of every table.');
}

/**
 * Updates and deletes are published only for tables with a replica identity (and the source
 * refuses them on a published table without one). Tables that replicate neither are exempt:
 * their publication does not publish updates or deletes.
 */
async function checkReplicaIdentity(src: Client, operations?: OperationsConfig): Promise<CheckItem> {
  let { rows } = await src.query<Table>(
    `SELECT t.schema, t.name FROM (${USER_TABLES_SQL}) t JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.format('%I.%I', t.schema, t.name)::regclass
      WHERE c.relreplident = 'n'
         OR (c.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary))
         OR (c.relreplident = 'i' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisreplident))`,
  );
  const needsIdentity = (t: Table) => {
    const ops = operations?.tables[displayName(t)]?.operations ?? operations?.operations ?? ['update', 'delete'];
    return ops.includes('update') || ops.includes('delete');
  };
  rows = rows.filter(needsIdentity);
  if (!rows.length) return pass('replica-identity', 'Every table has a primary key or a replica identity (FULL or USING INDEX).');
  const fixes = rows.slice(0, 20).map((t) => `ALTER TABLE ${qualified(t)} REPLICA IDENTITY FULL;`);
  return fail(
    'replica-identity',
    `${rows.length} table(s) have no primary key and no replica identity, so their updates and deletes cannot be streamed: ${listSome(rows.map(displayName))}.`,
    `Add a primary key, or replicate only inserts (and truncates) of the table (incremental.tables), or run on the source: ${fixes.join(' ')}${rows.length > 20 ? ` (and the same for the other ${rows.length - 20})` : ''}`,
  );
}

async function checkUnlogged(src: Client): Promise<CheckItem> {
  const { rows } = await src.query<Table>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND c.relpersistence = 'u' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'`,
  );
  const names = rows.map(displayName);
  return names.length
    ? fail('unlogged-tables', `${names.length} unlogged table(s) write no WAL, so their changes cannot be streamed: ${listSome(names)}.`, `Make them logged on the source (ALTER TABLE ${rows[0] ? qualified(rows[0]) : '...'} SET LOGGED), or migrate without incremental.`)
    : pass('unlogged-tables', 'No unlogged tables.');
}

/** The apply runs with session_replication_role = replica, like PostgreSQL's own apply worker. */
async function checkApplyPrivilege(tgt: Client): Promise<CheckItem> {
  // GRANT SET ON PARAMETER (and has_parameter_privilege) exist from PostgreSQL 15 on.
  const grantable = Number((await tgt.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0].v) >= 150000;
  const { rows } = await tgt.query<{ ok: boolean; who: string }>(
    `SELECT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)
            ${grantable ? "OR pg_catalog.has_parameter_privilege('session_replication_role', 'SET')" : ''} AS ok, current_user AS who`,
  );
  return rows[0].ok
    ? pass('apply-privilege', 'The target user may set session_replication_role, so replicated rows skip foreign key checks and triggers (as in native replication).')
    : fail('apply-privilege', `The target user ${rows[0].who} may not set session_replication_role.`, `On the target, as a superuser: GRANT SET ON PARAMETER session_replication_role TO ${rows[0].who};`);
}
