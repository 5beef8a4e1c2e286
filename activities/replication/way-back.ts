/**
 * The way back's replication objects (common/way-back.ts): on the target, a publication of the
 * migrated tables and a logical slot; on the source, the reverse stream's position row (the
 * fence and the truth about what is applied, as stream-position.ts is for the forward stream)
 * and a replication origin its writes carry. `prepareWayBack` makes them at cutover, while the
 * target has taken no application write yet; `dropWayBack` removes every one of them.
 * Both are idempotent: a retry finds what an earlier attempt made.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Client } from 'pg';
import { FailureType } from '../../common/failure-types';
import { displayName } from '../../common/plan';
import type { WayBackNames, WayBackReady } from '../../common/way-back';
import { closeQuietly, openSourceAdminClient, qualified, quoteIdent } from '../db';
import { resolveBoth, type ActivityDeps, type Endpoints } from '../deps';
import { guarded } from '../errors';
import { MARKER_SCHEMA } from '../schema/step-marker';
import { recordStreamStart } from '../stream/stream-position';
import { dropSlots } from './slots';

type Table = { schema: string; name: string };

export interface PrepareWayBackInput extends Endpoints {
  migrationId: string;
  names: WayBackNames;
  /** The migrated tables, under their target names (the same as the source's: no renames with a way back). */
  tables: Table[];
  sourceLockedAt?: string;
}

export function makePrepareWayBack(deps: ActivityDeps) {
  return async function prepareWayBack(input: PrepareWayBackInput): Promise<WayBackReady> {
    const { source, target, secrets } = resolveBoth(deps, input);
    let src: Client | undefined;
    let tgt: Client | undefined;
    try {
      return await guarded({ doing: `prepare the way back (publication and slot on target ${target.label})`, secrets, retry: input.retry }, async () => {
        tgt = await openSourceAdminClient(target, 'way back');
        await refuseTablesWithoutIdentity(tgt, input.tables);
        await ensurePublication(tgt, input.names.publication, input.tables);
        const lsn = await ensureSlot(tgt, input.names.slotPrefix);
        src = await openSourceAdminClient(source, 'way back');
        const origin = await ensureOrigin(src, input.names.origin);
        await recordStreamStart(src, input.migrationId, input.names.slotPrefix, lsn);
        return {
          slot: input.names.slotPrefix,
          publication: input.names.publication,
          lsn,
          tables: input.tables.length,
          origin,
          ...(input.sourceLockedAt ? { sourceLockedAt: input.sourceLockedAt } : {}),
        };
      });
    } finally {
      await closeQuietly(src);
      await closeQuietly(tgt);
    }
  };
}

export interface DropWayBackInput extends Endpoints {
  migrationId: string;
  names: WayBackNames;
}

/** Drops the slot and publication on the target, the origin and pgferry's bookkeeping schema on the source. */
export function makeDropWayBack(deps: ActivityDeps) {
  return async function dropWayBack(input: DropWayBackInput): Promise<{ dropped: string[] }> {
    const { source, target, secrets } = resolveBoth(deps, input);
    let src: Client | undefined;
    let tgt: Client | undefined;
    try {
      return await guarded({ doing: `drop the way back's slot and publication on target ${target.label}`, secrets, retry: input.retry }, async () => {
        const dropped: string[] = [];
        tgt = await openSourceAdminClient(target, 'way back');
        for (const slot of await dropSlots(tgt, [input.names.slotPrefix])) dropped.push(`slot ${slot} on the target`);
        const pub = await tgt.query('SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1', [input.names.publication]);
        if (pub.rowCount) {
          await tgt.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(input.names.publication)}`);
          dropped.push(`publication ${input.names.publication} on the target`);
        }
        src = await openSourceAdminClient(source, 'way back');
        const origin = await src.query('SELECT 1 FROM pg_catalog.pg_replication_origin WHERE roname = $1', [input.names.origin]);
        if (origin.rowCount) {
          await src.query('SELECT pg_catalog.pg_replication_origin_drop($1)', [input.names.origin]);
          dropped.push(`replication origin ${input.names.origin} on the source`);
        }
        if (await dropPositionRow(src, input.migrationId)) dropped.push(`pgferry's bookkeeping schema ${MARKER_SCHEMA} on the source`);
        return { dropped };
      });
    } finally {
      await closeQuietly(src);
      await closeQuietly(tgt);
    }
  };
}

/**
 * A table without a replica identity in a publication of updates and deletes makes the target
 * refuse the applications' UPDATEs on it: refuse instead, before anything is created.
 */
async function refuseTablesWithoutIdentity(tgt: Client, tables: Table[]): Promise<void> {
  const { rows } = await tgt.query<Table>(
    `SELECT n.nspname AS schema, c.relname AS name
       FROM unnest($1::text[], $2::text[]) AS t(schema, name)
       JOIN pg_catalog.pg_namespace n ON n.nspname = t.schema
       JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = t.name
      WHERE c.relreplident = 'n'
         OR (c.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary))`,
    [tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  if (!rows.length) return;
  const names = rows.map(displayName);
  throw ApplicationFailure.nonRetryable(
    `${names.length} table(s) on the target have no primary key and no replica identity, so their updates and deletes could not be streamed back: ${names.slice(0, 10).join(', ')}` +
      `. Give them one on the target (ALTER TABLE ${qualified(rows[0])} REPLICA IDENTITY FULL) to have a way back`,
    FailureType.WayBackFailed,
  );
}

async function ensurePublication(tgt: Client, name: string, tables: Table[]): Promise<void> {
  const exists = await tgt.query('SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1', [name]);
  if (exists.rowCount) return; // an earlier attempt made it, before its slot: the same tables
  const list = tables.map(qualified).join(', ');
  await tgt.query(`CREATE PUBLICATION ${quoteIdent(name)}${tables.length ? ` FOR TABLE ${list}` : ''} WITH (publish = 'insert, update, delete, truncate')`);
}

/** The slot's consistent point: every transaction committing after it is decoded. */
async function ensureSlot(tgt: Client, name: string): Promise<string> {
  const found = await tgt.query<{ lsn: string }>('SELECT confirmed_flush_lsn::text AS lsn FROM pg_catalog.pg_replication_slots WHERE slot_name = $1', [name]);
  if (found.rows[0]?.lsn) return found.rows[0].lsn; // nothing has read it yet: still its consistent point
  try {
    const { rows } = await tgt.query<{ lsn: string }>(`SELECT lsn::text FROM pg_catalog.pg_create_logical_replication_slot($1, 'pgoutput')`, [name]);
    return rows[0].lsn;
  } catch (err) {
    // 55000: wal_level is not logical (the precheck says so; it may have changed since). No retry helps.
    if ((err as { code?: string }).code === '55000') throw ApplicationFailure.nonRetryable(`the target cannot make the way back's slot: ${(err as Error).message}`, FailureType.WayBackFailed);
    throw err;
  }
}

/** The origin the reverse stream's writes carry; false when the source user may not create one (superuser, or granted). */
async function ensureOrigin(src: Client, name: string): Promise<boolean> {
  const found = await src.query('SELECT 1 FROM pg_catalog.pg_replication_origin WHERE roname = $1', [name]);
  if (found.rowCount) return true;
  const { rows } = await src.query<{ ok: boolean }>(
    `SELECT pg_catalog.has_function_privilege('pg_catalog.pg_replication_origin_create(text)', 'EXECUTE')
        AND pg_catalog.has_function_privilege('pg_catalog.pg_replication_origin_session_setup(text)', 'EXECUTE') AS ok`,
  );
  if (!rows[0].ok) return false;
  await src.query('SELECT pg_catalog.pg_replication_origin_create($1)', [name]);
  return true;
}

/**
 * The reverse stream's position row, and the bookkeeping schema when nothing else is in it (the
 * source could be another migration's target). True: the schema was dropped.
 */
async function dropPositionRow(src: Client, migrationId: string): Promise<boolean> {
  const { rows } = await src.query<{ ok: boolean }>(`SELECT to_regclass('${MARKER_SCHEMA}.stream') IS NOT NULL AS ok`);
  if (!rows[0].ok) return false;
  await src.query(`DELETE FROM ${MARKER_SCHEMA}.stream WHERE workflow_id = $1`, [migrationId]);
  const { rows: tables } = await src.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'`,
    [MARKER_SCHEMA],
  );
  for (const t of tables) {
    const used = await src.query(`SELECT 1 FROM ${MARKER_SCHEMA}.${quoteIdent(t.name)} LIMIT 1`);
    if (used.rowCount) return false;
  }
  await src.query(`DROP SCHEMA IF EXISTS ${MARKER_SCHEMA} CASCADE`);
  return true;
}
