/**
 * A database's encoding and locale, read from pg_database, and the CREATE DATABASE that
 * reproduces them. The columns moved between versions: datlocprovider and daticulocale
 * appeared in PostgreSQL 15, daticulocale became datlocale in 17.
 */
import type { Client } from 'pg';
import { quoteIdent, quoteLiteral } from '../db';

/** pg_database.datlocprovider: libc, ICU, or (17+) the builtin provider. */
export type LocaleProvider = 'c' | 'i' | 'b';

export interface DatabaseLocale {
  encoding: string;
  collate: string;
  ctype: string;
  provider: LocaleProvider;
  /** The ICU or builtin locale; null with libc. */
  locale: string | null;
}

export async function serverVersionNum(client: Client): Promise<number> {
  const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
  return Number(rows[0].v);
}

/** The locale of the database the client is connected to. */
export async function readDatabaseLocale(client: Client): Promise<DatabaseLocale> {
  const version = await serverVersionNum(client);
  const provider = version >= 150000 ? 'datlocprovider::text' : "'c'";
  const locale = version >= 170000 ? 'datlocale' : version >= 150000 ? 'daticulocale' : 'NULL::text';
  const { rows } = await client.query<DatabaseLocale>(
    `SELECT pg_catalog.pg_encoding_to_char(encoding) AS encoding, datcollate AS collate, datctype AS ctype,
            ${provider} AS provider, ${locale} AS locale
       FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()`,
  );
  return rows[0];
}

/** Describes a locale for messages: "UTF8, C.UTF-8" or "UTF8, ICU de-DE (LC_CTYPE C.UTF-8)". */
export function describeLocale(l: DatabaseLocale): string {
  const libc = l.collate === l.ctype ? l.collate : `LC_COLLATE ${l.collate}, LC_CTYPE ${l.ctype}`;
  if (l.provider === 'c') return libc;
  return `${l.provider === 'i' ? 'ICU' : 'builtin'} ${l.locale} (${libc})`;
}

/**
 * CREATE DATABASE from template0 (template1 may hold local objects and its own locale) with the
 * source's encoding and locale, on a target server of the given version.
 */
export function createDatabaseSql(name: string, l: DatabaseLocale, targetVersion: number): string {
  const parts = [`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0 ENCODING ${quoteLiteral(l.encoding)}`, `LC_COLLATE ${quoteLiteral(l.collate)} LC_CTYPE ${quoteLiteral(l.ctype)}`];
  if (targetVersion >= 150000 && l.provider === 'i' && l.locale) parts.push(`LOCALE_PROVIDER icu ICU_LOCALE ${quoteLiteral(l.locale)}`);
  if (targetVersion >= 170000 && l.provider === 'b' && l.locale) parts.push(`LOCALE_PROVIDER builtin BUILTIN_LOCALE ${quoteLiteral(l.locale)}`);
  return parts.join(' ');
}
