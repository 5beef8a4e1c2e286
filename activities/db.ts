/** Opening `pg` connections for activities, with the guard every long-lived client needs. */
import { Client, escapeIdentifier, escapeLiteral } from 'pg';
import type { ResolvedConnection } from './credentials';

/**
 * Connects and returns a client whose background errors (a dropped socket while idle) are
 * recorded instead of crashing the worker process: the next query on it fails and the
 * activity's retry takes over. `settings` are session settings sent with the connection
 * (no round trip of their own). Its values print exactly (EXACT_TEXT).
 */
export async function openClient(conn: ResolvedConnection, purpose: string, settings: Record<string, string> = {}): Promise<Client> {
  const options = startupOptions(settings);
  const client = new Client({ ...conn.pgConfig, application_name: `pgferry ${purpose}`.slice(0, 63), ...(options ? { options } : {}) });
  client.on('error', () => undefined);
  await client.connect();
  await client.query(EXACT_TEXT_SQL);
  return client;
}

/**
 * How every pgferry session prints values: exactly, and in a form any server reads back the
 * same. Values travel as text in text-format COPY and in the change stream, and checksums hash
 * each side's text of a row; a database or role may set these otherwise (extra_float_digits = 0
 * rounds a float8 to 15 digits, DateStyle 'SQL, DMY' prints 02/01/2026, which an MDY session
 * reads as 1 February, sql_standard intervals lose their signs' meaning, node-postgres itself
 * parses timestamps in ISO form only). PostgreSQL's logical replication connections set the same
 * (libpqwalreceiver). A SET, not a startup option: `DateStyle = 'ISO'` then keeps the database's
 * field order (a startup option resets it to the server's), so row filters read their date
 * literals as in the database's own sessions. The time zone is left to the database; a
 * comparison aligns it (validate/text-forms.ts).
 */
export const EXACT_TEXT: Record<string, string> = { DateStyle: 'ISO', IntervalStyle: 'postgres', extra_float_digits: '3', bytea_output: 'hex' };

const EXACT_TEXT_SQL = Object.entries(EXACT_TEXT)
  .map(([name, value]) => `SET ${name} = ${escapeLiteral(value)}`)
  .join('; ');

/**
 * Settings of pgferry's sessions that write where pgferry itself may have made the database
 * read-only for applications (`--lock-source`, a rollback's lock of the target): the reverse
 * stream applies to a source locked at cutover. Startup options override ALTER DATABASE.
 */
export const WRITES_ON_READ_ONLY: Record<string, string> = { default_transaction_read_only: 'off' };

/** Session settings as libpq's `options` (also PGOPTIONS): `-c name=value`, spaces and backslashes escaped. */
export function startupOptions(settings: Record<string, string>): string {
  return Object.entries(settings)
    .map(([name, value]) => `-c ${name}=${value.replace(/[\\ ]/g, '\\$&')}`)
    .join(' ');
}

/**
 * Ends a client without waiting for its server process to exit: the Terminate message goes
 * at once, but a backend takes ~20 ms to exit and close the socket, and an activity that
 * awaited that for each of its sessions added it to every step of a migration. For sessions
 * whose work is committed or rolled back and that nothing after depends on being gone (not a
 * replication connection whose slot is dropped next, not a session holding a lock to release).
 */
export function closeInBackground(client: Client | undefined): void {
  if (client) client.end().catch(() => undefined); // already broken: nothing to release
}

/** Ends a client without letting a second error hide the first. */
export async function closeQuietly(client: Client | undefined): Promise<void> {
  if (!client) return;
  try {
    await client.end();
  } catch {
    // already broken: nothing to release
  }
}

/**
 * pg's own escaping under the names the activities use: an identifier always in double quotes;
 * a literal in single quotes, written `E'...'` when it holds a backslash so that it reads the
 * same whatever `standard_conforming_strings` is.
 */
export { escapeIdentifier as quoteIdent, escapeLiteral as quoteLiteral } from 'pg';

export function qualified(t: { schema: string; name: string }): string {
  return `${escapeIdentifier(t.schema)}.${escapeIdentifier(t.name)}`;
}

/**
 * A connection in logical replication mode (`replication=database`): it accepts replication
 * commands (CREATE_REPLICATION_SLOT, START_REPLICATION) as well as plain SQL.
 */
export async function openReplicationClient(conn: ResolvedConnection, purpose: string): Promise<Client> {
  const client = new Client({
    ...conn.pgConfig,
    replication: 'database',
    application_name: `pgferry ${purpose}`.slice(0, 63),
    options: startupOptions(EXACT_TEXT), // the walsender prints the stream's values (field order does not matter there)
  } as ConstructorParameters<typeof Client>[0]);
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/**
 * A source connection for pgferry's own bookkeeping there (publication, slots, cutover marker):
 * it must work even after `--lock-source` made the database read-only for new sessions.
 */
export async function openSourceAdminClient(conn: ResolvedConnection, purpose: string): Promise<Client> {
  return openClient(conn, purpose, WRITES_ON_READ_ONLY);
}
