/**
 * The publications that tell the source which tables' changes to stream: one per set of
 * operations the spec asks for (usually just one, of every table with every operation). They
 * are created before the slot: pgoutput looks publications up as of each change's position in
 * WAL, so one created after the slot would be missing for the changes in between.
 */
import type { Client } from 'pg';
import { displayName, tableKey } from '../../common/plan';
import type { ObjectsSpec } from '../../common/objects-spec';
import { selectsEverything } from '../../common/selection';
import { readSelection } from '../objects/read-selection';
import { publicationFor, type ReplicationNames } from '../../common/replication-names';
import type { OperationsConfig } from '../../common/stream';
import { USER_TABLES_SQL } from '../copy/list-tables';
import { resolveConnection } from '../credentials';
import { closeQuietly, openSourceAdminClient, quoteIdent } from '../db';
import type { ActivityDeps, Endpoints } from '../deps';
import { guarded } from '../errors';
import { dropSlots, slotsWithPrefix } from './slots';
import { ddlCaptureNames } from '../../common/ddl';
import { dropDdlCapture, installDdlCapture } from './ddl-capture';

export interface PublicationInput extends Pick<Endpoints, 'source' | 'retry'> {
  names: ReplicationNames;
  operations: OperationsConfig;
  /** Only the selected tables are published (objects). */
  objects?: ObjectsSpec;
  conflicts?: 'error' | 'ignore';
  /** Also install the DDL capture (incremental.ddl: replicate); absent in histories from before. */
  captureDdl?: boolean;
}

export function makeCreatePublication(deps: ActivityDeps) {
  return async function createPublication(input: PublicationInput): Promise<{ publications: string[]; tables: number }> {
    const source = resolveConnection(input.source, deps.env);
    let client: Client | undefined;
    try {
      return await guarded({ doing: `create publication ${input.names.publication} on source ${source.label}`, secrets: source.secrets, retry: input.retry }, async () => {
        client = await openSourceAdminClient(source, 'publication');
        const { rows: all } = await client.query<{ schema: string; name: string }>(USER_TABLES_SQL);
        const selected = input.objects && !selectsEverything(input.objects) ? new Set((await readSelection(client, input.objects, input.conflicts ?? 'error')).tables.map(tableKey)) : undefined;
        const rows = selected ? all.filter((t) => selected.has(tableKey(t))) : all;
        const groups = new Map<string, { operations: string[]; tables: string[] }>();
        for (const t of rows) {
          const operations = input.operations.tables[displayName(t)]?.operations ?? input.operations.operations;
          const pub = publicationFor(input.names, operations);
          const group = groups.get(pub) ?? { operations, tables: [] };
          group.tables.push(`${quoteIdent(t.schema)}.${quoteIdent(t.name)}`);
          groups.set(pub, group);
        }
        // New tables created during the stream join the publication of the default operations.
        if (!groups.size) groups.set(input.names.publication, { operations: input.operations.operations, tables: [] });
        const defaultPublication = groups.has(input.names.publication) ? input.names.publication : publicationFor(input.names, input.operations.operations);
        if (input.captureDdl && !groups.has(defaultPublication)) groups.set(defaultPublication, { operations: input.operations.operations, tables: [] });
        for (const [name, group] of groups) await ensurePublication(client, name, group.operations, group.tables);
        if (input.captureDdl) await installDdlCapture(client, ddlCaptureNames(input.names), defaultPublication);
        return { publications: [...groups.keys()].sort(), tables: rows.length };
      });
    } finally {
      await closeQuietly(client);
    }
  };
}

/** Creates the publication, or (a retry) brings the one an earlier attempt made up to date. */
async function ensurePublication(client: Client, name: string, operations: string[], tables: string[]): Promise<void> {
  const pub = quoteIdent(name);
  const publish = `publish = '${operations.join(', ')}'`;
  const exists = await client.query('SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1', [name]);
  if (exists.rowCount) {
    if (tables.length) await client.query(`ALTER PUBLICATION ${pub} SET TABLE ${tables.join(', ')}`);
    await client.query(`ALTER PUBLICATION ${pub} SET (${publish})`);
  } else {
    await client.query(`CREATE PUBLICATION ${pub}${tables.length ? ` FOR TABLE ${tables.join(', ')}` : ''} WITH (${publish})`);
  }
}

export interface DropReplicationInput extends Pick<Endpoints, 'source' | 'retry'> {
  names: ReplicationNames;
  /** Keep this slot (the one the stream will read) and drop the others; omit to drop all. */
  keepSlot?: string;
  /** Drop the publications too (with all slots). */
  dropPublication: boolean;
}

/** Drops this migration's slots (all, or all but one) and its publications. Idempotent. */
export function makeDropReplication(deps: ActivityDeps) {
  return async function dropReplication(input: DropReplicationInput): Promise<{ droppedSlots: string[]; droppedPublications: string[]; droppedCapture?: string[] }> {
    const source = resolveConnection(input.source, deps.env);
    let client: Client | undefined;
    try {
      return await guarded({ doing: `drop replication slots and publication of ${input.names.publication} on source ${source.label}`, secrets: source.secrets, retry: input.retry }, async () => {
        client = await openSourceAdminClient(source, 'cleanup');
        const slots = (await slotsWithPrefix(client, input.names.slotPrefix)).filter((s) => s !== input.keepSlot);
        const droppedSlots = await dropSlots(client, slots);
        const droppedPublications: string[] = [];
        let droppedCapture: string[] | undefined;
        if (input.dropPublication) {
          // The DDL capture goes with the publication (its triggers add new tables to it).
          droppedCapture = await dropDdlCapture(client, ddlCaptureNames(input.names));
          const { rows } = await client.query<{ pubname: string }>(
            `SELECT pubname FROM pg_catalog.pg_publication WHERE pubname = $1 OR left(pubname, length($1) + 1) = $1 || '_'`,
            [input.names.publication],
          );
          for (const { pubname } of rows) {
            await client.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(pubname)}`);
            droppedPublications.push(pubname);
          }
        }
        return { droppedSlots, droppedPublications, ...(droppedCapture?.length ? { droppedCapture } : {}) };
      });
    } finally {
      await closeQuietly(client);
    }
  };
}
