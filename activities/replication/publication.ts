/**
 * The publication that tells the source which tables' changes to stream. It is created before
 * the slot: pgoutput looks publications up as of each change's position in WAL, so one created
 * after the slot would be missing for the changes in between.
 */
import type { Client } from 'pg';
import type { ReplicationNames } from '../../common/replication-names';
import { USER_TABLES_SQL } from '../copy/list-tables';
import { resolveConnection } from '../credentials';
import { closeQuietly, openSourceAdminClient, quoteIdent } from '../db';
import type { ActivityDeps, Endpoints } from '../deps';
import { guarded } from '../errors';
import { dropSlots, slotsWithPrefix } from './slots';

export interface PublicationInput extends Pick<Endpoints, 'source' | 'retry'> {
  names: ReplicationNames;
}

export function makeCreatePublication(deps: ActivityDeps) {
  return async function createPublication(input: PublicationInput): Promise<{ tables: number }> {
    const source = resolveConnection(input.source, deps.env);
    let client: Client | undefined;
    try {
      return await guarded({ doing: `create publication ${input.names.publication} on source ${source.label}`, secrets: source.secrets, retry: input.retry }, async () => {
        client = await openSourceAdminClient(source, 'publication');
        const { rows } = await client.query<{ schema: string; name: string }>(USER_TABLES_SQL);
        const list = rows.map((t) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`).join(', ');
        const pub = quoteIdent(input.names.publication);
        const exists = await client.query('SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1', [input.names.publication]);
        // A retry finds the publication of the earlier attempt and brings its table list up to date.
        if (exists.rowCount) {
          if (list) await client.query(`ALTER PUBLICATION ${pub} SET TABLE ${list}`);
        } else {
          await client.query(`CREATE PUBLICATION ${pub}${list ? ` FOR TABLE ${list}` : ''}`);
        }
        return { tables: rows.length };
      });
    } finally {
      await closeQuietly(client);
    }
  };
}

export interface DropReplicationInput extends Pick<Endpoints, 'source' | 'retry'> {
  names: ReplicationNames;
  /** Keep this slot (the one the stream will read) and drop the others; omit to drop all. */
  keepSlot?: string;
  /** Drop the publication too (with all slots). */
  dropPublication: boolean;
}

/** Drops this migration's slots (all, or all but one) and its publication. Idempotent. */
export function makeDropReplication(deps: ActivityDeps) {
  return async function dropReplication(input: DropReplicationInput): Promise<{ droppedSlots: string[]; droppedPublication: boolean }> {
    const source = resolveConnection(input.source, deps.env);
    let client: Client | undefined;
    try {
      return await guarded({ doing: `drop replication slots and publication of ${input.names.publication} on source ${source.label}`, secrets: source.secrets, retry: input.retry }, async () => {
        client = await openSourceAdminClient(source, 'cleanup');
        const slots = (await slotsWithPrefix(client, input.names.slotPrefix)).filter((s) => s !== input.keepSlot);
        const droppedSlots = await dropSlots(client, slots);
        let droppedPublication = false;
        if (input.dropPublication) {
          const r = await client.query('SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1', [input.names.publication]);
          if (r.rowCount) {
            await client.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(input.names.publication)}`);
            droppedPublication = true;
          }
        }
        return { droppedSlots, droppedPublication };
      });
    } finally {
      await closeQuietly(client);
    }
  };
}
