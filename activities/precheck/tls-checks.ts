/**
 * Whether each connection is really encrypted: pg_stat_ssl for the precheck's own backend, and
 * what a TLS refusal at connect time means. node-postgres cannot fall back from TLS to plain
 * text, so sslmode prefer or allow without certificates connect in plain text (credentials.ts).
 */
import type { Client } from 'pg';
import type { CheckItem } from '../../common/precheck';
import type { ConnectionRef } from '../../common/connection';
import { fail, pass, warn } from './items';

export type Side = 'source' | 'target';

export interface TlsState {
  ssl: boolean;
  version: string | null;
  cipher: string | null;
}

const REQUIRES_TLS = new Set(['require', 'verify-ca', 'verify-full']);
const VERIFIES_SERVER = new Set(['verify-ca', 'verify-full']);

/** A Unix socket, localhost or a loopback address: nothing crosses a network. */
export function isLocalHost(host: string): boolean {
  return host.startsWith('/') || host === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1';
}

export async function readTlsState(client: Client): Promise<TlsState> {
  const { rows } = await client.query<TlsState>('SELECT ssl, version, cipher FROM pg_catalog.pg_stat_ssl WHERE pid = pg_catalog.pg_backend_pid()');
  return rows[0] ?? { ssl: false, version: null, cipher: null };
}

/** The `<side>-tls` item for a connection that was made. */
export function tlsItem(side: Side, ref: Pick<ConnectionRef, 'host' | 'sslmode'>, state: TlsState): CheckItem {
  const id = `${side}-tls`;
  const mode = ref.sslmode ?? 'not set';
  if (state.ssl) {
    const title = `The ${side} connection uses TLS (${state.version}, ${state.cipher}; sslmode ${mode}).`;
    if (VERIFIES_SERVER.has(mode) || isLocalHost(ref.host)) return pass(id, title);
    return pass(id, title, `The server's certificate is not verified: set sslmode verify-full and sslrootcert to rule out an impostor on the network.`);
  }
  if (REQUIRES_TLS.has(mode)) {
    return fail(id, `The ${side} connection does not use TLS although sslmode is ${mode}.`, 'Turn on ssl on the server (ssl = on with a certificate) and run again.');
  }
  if (!isLocalHost(ref.host)) {
    return warn(
      id,
      `The ${side} ${ref.host} is reached over the network without TLS (sslmode ${mode}).`,
      'Passwords and rows cross the network in plain text: set sslmode verify-full with sslrootcert (pgferry never falls back, so prefer and allow mean plain text), or acknowledge this on a trusted network.',
    );
  }
  return pass(id, `The ${side} connection does not use TLS; ${ref.host} is local.`);
}

/** The `<side>-tls` item when connecting failed because of TLS, else undefined. */
export function tlsConnectFailure(side: Side, ref: Pick<ConnectionRef, 'host' | 'port' | 'sslmode'>, message: string): CheckItem | undefined {
  const id = `${side}-tls`;
  const server = `${ref.host}:${ref.port}`;
  const mode = ref.sslmode ?? 'not set';
  if (/does not support SSL/i.test(message)) {
    return fail(id, `sslmode ${mode} requires TLS, but the ${side} server ${server} does not offer it.`, 'Turn on ssl on the server (ssl = on with a certificate and key), or set sslmode disable on a trusted network only.');
  }
  if (/no encryption/i.test(message)) {
    return fail(id, `The ${side} server ${server} accepts only TLS connections, but sslmode is ${mode}.`, 'Set sslmode verify-full with sslrootcert (the CA of the server certificate), or at least require.');
  }
  if (/certificate|self.signed/i.test(message)) {
    return fail(id, `The ${side} server's TLS certificate was not accepted (sslmode ${mode}).`, 'Give sslrootcert the CA that signed the server certificate; with verify-full the host name must also match the certificate.');
  }
  return undefined;
}
