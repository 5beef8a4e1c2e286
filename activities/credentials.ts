/**
 * Resolves a ConnectionRef into what the worker needs to log in: a `pg` client config and the
 * libpq environment for pg_dump / psql / pg_restore. This file is the only place that reads
 * passwords; they never leave the worker process.
 */
import { readFileSync } from 'node:fs';
import type { ClientConfig } from 'pg';
import { describeConnection, type ConnectionRef } from '../common/connection';

export interface ResolvedConnection {
  ref: ConnectionRef;
  /** `user@host:port/db`, safe for messages. */
  label: string;
  pgConfig: ClientConfig;
  /** Environment for libpq tools: PGHOST, PGPORT, ..., PGPASSWORD when known. */
  libpqEnv: Record<string, string>;
  /** Known secrets, to scrub from any message before it leaves the activity. */
  secrets: string[];
}

export function resolvePassword(ref: ConnectionRef, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (ref.passwordEnv) {
    const value = env[ref.passwordEnv];
    if (value === undefined) {
      throw new Error(
        `environment variable ${ref.passwordEnv} (passwordEnv of ${describeConnection(ref)}) is not set on the worker`,
      );
    }
    return value;
  }
  if (ref.passwordFile) {
    try {
      return readFileSync(ref.passwordFile, 'utf8').split(/\r?\n/)[0];
    } catch (err) {
      throw new Error(
        `cannot read passwordFile ${ref.passwordFile} for ${describeConnection(ref)} on the worker: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
  }
  // Otherwise PGPASSWORD, or a pgpass file: `pg` and libpq both look these up themselves.
  return env.PGPASSWORD;
}

function sslConfig(ref: ConnectionRef): ClientConfig['ssl'] {
  const mode = ref.sslmode;
  if (!mode || mode === 'disable' || mode === 'allow' || mode === 'prefer') {
    // node-postgres cannot fall back from TLS to plain text, so "prefer"/"allow" mean plain
    // unless certificates are given; libpq tools still apply the mode as written.
    if (!ref.sslrootcert && !ref.sslcert) return false;
  }
  // require: encrypt only; verify-ca: check the chain; verify-full: the chain and the host name.
  const ssl: Exclude<ClientConfig['ssl'], boolean | undefined> = { rejectUnauthorized: mode === 'verify-ca' || mode === 'verify-full' };
  if (ref.sslrootcert) ssl.ca = readFileSync(ref.sslrootcert, 'utf8');
  if (ref.sslcert) ssl.cert = readFileSync(ref.sslcert, 'utf8');
  if (ref.sslkey) ssl.key = readFileSync(ref.sslkey, 'utf8');
  if (mode !== 'verify-full') ssl.checkServerIdentity = () => undefined;
  return ssl;
}

export function resolveConnection(ref: ConnectionRef, env: NodeJS.ProcessEnv = process.env): ResolvedConnection {
  const password = resolvePassword(ref, env);
  const libpqEnv: Record<string, string> = {
    PGHOST: ref.host,
    PGPORT: String(ref.port),
    PGDATABASE: ref.database,
    PGAPPNAME: 'pgferry',
    PGCONNECT_TIMEOUT: '15',
  };
  if (ref.user) libpqEnv.PGUSER = ref.user;
  if (ref.sslmode) libpqEnv.PGSSLMODE = ref.sslmode;
  if (ref.sslrootcert) libpqEnv.PGSSLROOTCERT = ref.sslrootcert;
  if (ref.sslcert) libpqEnv.PGSSLCERT = ref.sslcert;
  if (ref.sslkey) libpqEnv.PGSSLKEY = ref.sslkey;
  if (password !== undefined) libpqEnv.PGPASSWORD = password;
  return {
    ref,
    label: describeConnection(ref),
    pgConfig: {
      host: ref.host,
      port: ref.port,
      database: ref.database,
      user: ref.user ?? env.PGUSER,
      password,
      ssl: sslConfig(ref),
      application_name: 'pgferry',
      connectionTimeoutMillis: 15_000,
      keepAlive: true,
    },
    libpqEnv,
    secrets: password ? [password] : [],
  };
}
