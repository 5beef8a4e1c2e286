/**
 * Connecting both sides, as precheck items. A connection problem becomes a fail item (not an
 * activity error), so a wrong password or an unreachable host is reported at once with advice
 * instead of being retried for hours. A target database that does not exist yet is reached
 * through its server's maintenance database, so that the rest of the precheck still runs and
 * can say whether the migration may create it.
 */
import type { Client } from 'pg';
import { describeConnection, type ConnectionRef } from '../../common/connection';
import type { CheckItem } from '../../common/precheck';
import { resolveConnection, type ResolvedConnection } from '../credentials';
import { openMaintenanceClient } from '../database/maintenance';
import { openClient } from '../db';
import type { ActivityDeps } from '../deps';
import { classifyError, errorMessage, scrub } from '../errors';
import { fail, pass } from './items';
import { readTlsState, tlsConnectFailure, tlsItem, type Side } from './tls-checks';

type Attempt = { client: Client; label: string } | { error: unknown; message: string; label: string };

const DATABASE_MISSING = '3D000';

async function attempt(deps: ActivityDeps, ref: ConnectionRef, open: (conn: ResolvedConnection) => Promise<Client>): Promise<Attempt> {
  let conn: ResolvedConnection | undefined;
  try {
    conn = resolveConnection(ref, deps.env);
    return { client: await open(conn), label: conn.label };
  } catch (err) {
    return { error: err, message: scrub(errorMessage(err), conn?.secrets ?? []), label: conn?.label ?? describeConnection(ref) };
  }
}

const openDatabase = (conn: ResolvedConnection) => openClient(conn, 'precheck');

/** `<side>-connect` and `<side>-tls`; the client when connected. */
export async function connectSide(deps: ActivityDeps, side: Side, ref: ConnectionRef, items: CheckItem[]): Promise<Client | undefined> {
  const result = await attempt(deps, ref, openDatabase);
  if ('client' in result) {
    items.push(pass(`${side}-connect`, `Connected to the ${side} ${result.label}.`));
    items.push(tlsItem(side, ref, await readTlsState(result.client)));
    return result.client;
  }
  pushConnectFailure(side, ref, result, items);
  return undefined;
}

export interface TargetConnection {
  /** Connected to the target database, or to its server's maintenance database when it does not exist. */
  client?: Client;
  exists: boolean;
}

export async function connectTarget(deps: ActivityDeps, ref: ConnectionRef, items: CheckItem[]): Promise<TargetConnection> {
  const result = await attempt(deps, ref, openDatabase);
  if ('client' in result) {
    items.push(pass('target-connect', `Connected to the target ${result.label}.`));
    items.push(tlsItem('target', ref, await readTlsState(result.client)));
    return { client: result.client, exists: true };
  }
  if ((result.error as { code?: string }).code === DATABASE_MISSING) {
    const server = await attempt(deps, ref, (conn) => openMaintenanceClient(conn, 'precheck'));
    if ('client' in server) {
      items.push(pass('target-connect', `Connected to the target server ${ref.host}:${ref.port} through its maintenance database; the database ${ref.database} does not exist yet.`));
      items.push(tlsItem('target', ref, await readTlsState(server.client)));
      return { client: server.client, exists: false };
    }
  }
  pushConnectFailure('target', ref, result, items);
  return { exists: true };
}

function pushConnectFailure(side: Side, ref: ConnectionRef, failed: Extract<Attempt, { error: unknown }>, items: CheckItem[]): void {
  items.push(fail(`${side}-connect`, `Cannot connect to the ${side} ${failed.label}: ${failed.message}.`, connectAdvice(classifyError(failed.error), side)));
  const tls = tlsConnectFailure(side, ref, failed.message);
  if (tls) items.push(tls);
}

function connectAdvice(kind: ReturnType<typeof classifyError>, side: Side): string {
  switch (kind) {
    case 'auth':
      return `Check the ${side} user and the password the worker finds (passwordEnv, passwordFile, PGPASSWORD or a pgpass file).`;
    case 'connection':
      return `Check the ${side} host and port, that the server is up and accepts TCP connections from the worker (listen_addresses, pg_hba.conf, firewalls).`;
    case 'config':
      return side === 'target'
        ? 'Check that the target database exists (or that the target user may connect to the postgres or template1 database, so pgferry can create it) and that the user may connect to it (CONNECT privilege).'
        : 'Check that the source database exists and that the user may connect to it (CONNECT privilege).';
    default:
      return `Check the ${side} connection settings (sslmode and certificate paths included).`;
  }
}
