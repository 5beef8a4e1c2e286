/**
 * The target database itself: a name PostgreSQL keeps as written, not a template, not the
 * source database, and either there or creatable by the target user.
 */
import type { Client } from 'pg';
import type { CheckItem } from '../../common/precheck';
import { fail, pass } from './items';

/** NAMEDATALEN - 1: longer names are cut silently, so pgferry would reach another database. */
export const MAX_NAME_BYTES = 63;

/** What is wrong with a target database name before connecting, or undefined. */
export function targetNameProblem(name: string): CheckItem | undefined {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_NAME_BYTES) {
    return fail(
      'target-database-name',
      `The target database name is ${bytes} bytes long; PostgreSQL keeps at most ${MAX_NAME_BYTES} and would cut it to "${truncateUtf8(name, MAX_NAME_BYTES)}".`,
      `Choose a name of at most ${MAX_NAME_BYTES} bytes.`,
    );
  }
  if (name === 'template0' || name === 'template1') return templateItem(name);
  return undefined;
}

function truncateUtf8(name: string, maxBytes: number): string {
  let out = '';
  for (const ch of name) {
    if (Buffer.byteLength(out + ch, 'utf8') > maxBytes) break;
    out += ch;
  }
  return out;
}

function templateItem(name: string): CheckItem {
  return fail('target-database-name', `The target database ${name} is a template: whatever is migrated into it would be copied into every database created from it.`, 'Migrate into an ordinary database (pgferry creates it when it does not exist and the target user may create databases).');
}

/** After connecting: a database marked as a template (CREATE DATABASE ... IS_TEMPLATE). */
export async function checkTargetDatabaseName(tgt: Client, name: string): Promise<CheckItem> {
  const { rows } = await tgt.query<{ datistemplate: boolean }>('SELECT datistemplate FROM pg_catalog.pg_database WHERE datname = $1', [name]);
  if (rows[0]?.datistemplate) return templateItem(name);
  return pass('target-database-name', `The target database name ${name} is valid (${Buffer.byteLength(name, 'utf8')} bytes, not a template).`);
}

interface ServerIdentity {
  db: string;
  port: string;
  started: string;
}

const IDENTITY_SQL = "SELECT pg_catalog.current_database() AS db, current_setting('port') AS port, pg_catalog.pg_postmaster_start_time()::text AS started";

/** Exists and is not the source itself; or does not exist and the target user may create it. */
export async function checkTargetDatabase(src: Client, tgt: Client, name: string, exists: boolean): Promise<CheckItem> {
  if (exists) {
    const [s, t] = [(await src.query<ServerIdentity>(IDENTITY_SQL)).rows[0], (await tgt.query<ServerIdentity>(IDENTITY_SQL)).rows[0]];
    // Same server (port and start time to the microsecond) and same database: the source itself.
    if (s.db === t.db && s.port === t.port && s.started === t.started) {
      return fail('target-database', `The target database ${name} is the source database itself.`, 'Point target at another database or server.');
    }
    return pass('target-database', `The target database ${name} exists.`);
  }
  const { rows } = await tgt.query<{ who: string; may: boolean }>('SELECT rolname AS who, (rolcreatedb OR rolsuper) AS may FROM pg_catalog.pg_roles WHERE rolname = current_user');
  const { who, may } = rows[0];
  return may
    ? pass('target-database', `The target database ${name} does not exist yet; the migration creates it (owned by ${who}, with the source's encoding and locale) right after the precheck.`)
    : fail('target-database', `The target database ${name} does not exist, and the target user ${who} may not create databases.`, `Create it first (CREATE DATABASE ... TEMPLATE template0 with the source's encoding and locale), or on the target: ALTER ROLE ${who} CREATEDB;`);
}
