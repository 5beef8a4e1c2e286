/**
 * Why a connection to Temporal failed, in words a user can act on. The SDKs say little ("Failed
 * to connect before the deadline", "transport error"), so after a failure this repeats the
 * connection a step at a time with the same settings — TCP, the TLS handshake and the server's
 * certificate, HTTP/2, the client certificate — and names the first step that fails and what
 * to change. Runs only after a failure; sends no credentials (no API key, no gRPC call).
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type PeerCertificate, type TLSSocket } from 'node:tls';
import type { TLSConfig } from '@temporalio/client';
import type { TemporalConnection } from './temporal-connection';

/** The Temporal server could not be reached or refused the connection (the CLI's exit code 3). */
export class TemporalUnreachableError extends Error {}

const STEP_TIMEOUT_MS = 5000;
/** The HTTP/2 client preface and an empty SETTINGS frame: a gRPC server answers with its SETTINGS. */
const H2_PREFACE = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);

/** The error to show for a failed connect: the diagnosis, then the SDK's own words. */
export async function unreachableError(conn: TemporalConnection, err: unknown): Promise<TemporalUnreachableError> {
  // The client SDK wraps the server's answer: "Failed to connect to Temporal server", cause "16 UNAUTHENTICATED: ...".
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : undefined;
  const sdkMessage = `${err instanceof Error ? err.message : String(err)}${cause ? `: ${cause.message}` : ''}`;
  const reason = await diagnoseConnection(conn).catch(() => undefined);
  const explanation = reason ?? authRefusal(cause ?? err, conn);
  return new TemporalUnreachableError(`cannot connect to the Temporal server at ${conn.description}: ${explanation ? `${explanation} [${sdkMessage}]` : sdkMessage}`);
}

/** The namespace the settings name does not exist on the server (the connection itself works). */
export function namespaceNotFound(conn: TemporalConnection): string {
  return `the Temporal namespace "${conn.namespace}" does not exist on ${conn.address}: set TEMPORAL_NAMESPACE (or the profile's namespace) to one of the server's namespaces`;
}

/** The first step of the connection that fails, or undefined when TCP, TLS and HTTP/2 all work. */
export async function diagnoseConnection(conn: TemporalConnection): Promise<string | undefined> {
  const target = splitAddress(conn.address);
  if (!target) return `the address ${conn.address} is not host:port (TEMPORAL_ADDRESS, or the profile's address)`;
  const { host, port } = target;
  const where = `${host}:${port}`;

  const tcp = await openTcp(host, port).catch((err: NodeJS.ErrnoException) => err);
  if (tcp instanceof Error) return tcpProblem(where, host, tcp);
  tcp.destroy();

  const tls = conn.options.tls;
  if (!tls) {
    const answer = await answerToPreface(await openTcp(host, port));
    if (answer === 'h2') return undefined;
    const probe = await tlsProbe(host, port, {}, false);
    if (probe.kind === 'no-tls') return `${where} accepts connections but does not answer HTTP/2 (gRPC) in plain text: is it a Temporal frontend?`;
    const clientCert = probe.kind === 'client-cert-refused' ? ' and a client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH)' : '';
    return `${where} expects TLS: set TEMPORAL_TLS=true, with TEMPORAL_TLS_SERVER_CA_CERT_PATH for a private CA${clientCert}`;
  }

  const probe = await tlsProbe(host, port, tls === true ? {} : tls, true);
  const given = tls !== true && tls.clientCertPair !== undefined;
  switch (probe.kind) {
    case 'ok':
      return undefined;
    case 'no-tls':
      return `${where} does not speak TLS (${probe.detail}): if the server is plain text, set TEMPORAL_TLS=false and leave out the TLS settings (an API key turns TLS on); else use its TLS address`;
    case 'untrusted': {
      if (probe.detail === 'CERT_HAS_EXPIRED') return `the server's certificate (${certName(probe.cert)}) expired on ${new Date(probe.cert.valid_to).toISOString()}: the server needs a new one`;
      const ca = tls !== true && tls.serverRootCACertificate ? 'the server CA certificate given (TEMPORAL_TLS_SERVER_CA_CERT_PATH or the profile)' : 'a CA this machine trusts';
      return `the server's certificate (${certName(probe.cert)}) is not signed by ${ca} [${probe.detail}]: set TEMPORAL_TLS_SERVER_CA_CERT_PATH to the CA certificate that signed it`;
    }
    case 'wrong-name':
      return `the server's certificate (${certName(probe.cert)}) is not valid for the name ${probe.name} [${probe.detail}]: connect by a name it holds, or set TEMPORAL_TLS_SERVER_NAME to one`;
    case 'no-h2':
      return `the TLS server at ${where} did not agree to HTTP/2 (ALPN "h2"), which gRPC needs: a TLS proxy or load balancer in front of Temporal must offer h2`;
    case 'client-cert-refused':
      return given
        ? `the server refused the client certificate (${probe.detail}): it must be signed by a CA the server trusts for clients, and be valid (TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH)`
        : `the server requires a client certificate (mTLS) [${probe.detail}]: set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH (or tls.client_cert_path and tls.client_key_path in the profile)`;
    case 'closed':
      return `the server closed the connection after the TLS handshake${given ? '' : ': it may require a client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH)'}`;
    case 'other':
      return `the TLS connection to ${where} failed: ${probe.detail}`;
  }
}

/** A refusal by the server once connected: an API key or a client identity it does not accept. */
function authRefusal(err: unknown, conn: TemporalConnection): string | undefined {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  // grpc-js: code 16 UNAUTHENTICATED / 7 PERMISSION_DENIED; the worker's core: tonic's descriptions of those codes.
  if (code === 16 || code === 7 || /unauthenticated|unauthorized|permission denied|valid authentication credentials|does not have permission/i.test(message)) {
    return conn.options.apiKey !== undefined
      ? `the server refused the credentials: check TEMPORAL_API_KEY (or the profile's api_key), and that it is valid for namespace ${conn.namespace}`
      : `the server refused the request: it may want an API key (TEMPORAL_API_KEY) or a client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH)`;
  }
  return undefined;
}

export function splitAddress(address: string): { host: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:]+):(\d+)$/.exec(address);
  return m ? { host: m[1], port: Number(m[2]) } : undefined;
}

function tcpProblem(where: string, host: string, err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return `nothing accepts connections at ${where} (connection refused): start the server (npm run quickstart, or temporal server start-dev) or set TEMPORAL_ADDRESS`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the host name ${host} does not resolve (${err.code}): check TEMPORAL_ADDRESS (or the profile's address)`;
    case 'ETIMEDOUT':
      return `no answer from ${where} within ${STEP_TIMEOUT_MS / 1000} s (a firewall, or a wrong address?)`;
    default:
      return `cannot open a connection to ${where}: ${err.message}`;
  }
}

function openTcp(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }));
    }, STEP_TIMEOUT_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Sends the HTTP/2 preface and reads the first answer; closes the socket. */
function answerToPreface(socket: Socket): Promise<'h2' | 'other' | 'closed' | 'timeout' | NodeJS.ErrnoException> {
  return new Promise((resolve) => {
    const onData = (data: Buffer) => done(data.length >= 9 && data[3] === 0x04 ? 'h2' : 'other');
    const onError = (err: NodeJS.ErrnoException) => done(err);
    const onClose = () => done('closed');
    const done = (result: 'h2' | 'other' | 'closed' | 'timeout' | NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.off('data', onData).off('error', onError).off('close', onClose);
      socket.on('error', () => undefined);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done('timeout'), STEP_TIMEOUT_MS);
    socket.once('data', onData).once('error', onError).once('close', onClose);
    socket.write(H2_PREFACE);
  });
}

type TlsProbe =
  | { kind: 'ok' }
  | { kind: 'no-tls'; detail: string }
  | { kind: 'untrusted'; cert: PeerCertificate; detail: string }
  | { kind: 'wrong-name'; cert: PeerCertificate; name: string; detail: string }
  | { kind: 'no-h2' }
  | { kind: 'client-cert-refused'; detail: string }
  | { kind: 'closed' }
  | { kind: 'other'; detail: string };

/** A TLS handshake as the SDK would make it (server name, CA, client certificate, ALPN h2), then the HTTP/2 preface. */
async function tlsProbe(host: string, port: number, tls: TLSConfig, verify: boolean): Promise<TlsProbe> {
  const name = tls.serverNameOverride ?? host;
  let socket: TLSSocket;
  try {
    socket = await new Promise<TLSSocket>((resolve, reject) => {
      const s = tlsConnect({
        host,
        port,
        servername: isIP(name) ? undefined : name,
        ca: tls.serverRootCACertificate ? Buffer.from(tls.serverRootCACertificate) : undefined,
        cert: tls.clientCertPair ? Buffer.from(tls.clientCertPair.crt) : undefined,
        key: tls.clientCertPair ? Buffer.from(tls.clientCertPair.key) : undefined,
        ALPNProtocols: ['h2'],
        // Verified below, so that the certificate can be named in the message.
        rejectUnauthorized: false,
      });
      const timer = setTimeout(() => {
        s.destroy();
        reject(Object.assign(new Error(`no TLS handshake within ${STEP_TIMEOUT_MS / 1000} s`), { code: 'ETIMEDOUT' }));
      }, STEP_TIMEOUT_MS);
      s.once('secureConnect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  } catch (err) {
    return handshakeError(err as NodeJS.ErrnoException);
  }
  if (verify) {
    const cert = socket.getPeerCertificate();
    const wrongName = checkServerIdentity(name, cert);
    if (!socket.authorized && String(socket.authorizationError) !== 'ERR_TLS_CERT_ALTNAME_INVALID') {
      socket.destroy();
      return { kind: 'untrusted', cert, detail: String(socket.authorizationError) };
    }
    if (wrongName) {
      socket.destroy();
      return { kind: 'wrong-name', cert, name, detail: wrongName.message };
    }
  }
  if (socket.alpnProtocol !== 'h2') {
    socket.destroy();
    return { kind: 'no-h2' };
  }
  // TLS 1.3: a server that wants a client certificate says so after the handshake, at the first read.
  const answer = await answerToPreface(socket);
  if (answer === 'h2') return { kind: 'ok' };
  if (answer instanceof Error) return handshakeError(answer);
  if (answer === 'closed') return { kind: 'closed' };
  return { kind: 'other', detail: answer === 'timeout' ? 'no HTTP/2 answer after the TLS handshake' : 'the answer after the TLS handshake is not HTTP/2' };
}

function handshakeError(err: NodeJS.ErrnoException): TlsProbe {
  const code = err.code ?? '';
  // OpenSSL's messages hold a hex prefix and a source file: keep the reason ("tlsv13 alert certificate required").
  const detail = /SSL routines:[^:]*:([^:]+)/.exec(err.message)?.[1] ?? err.message;
  if (/WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|HTTP_REQUEST|UNKNOWN_PROTOCOL|RECORD_LAYER_FAILURE/.test(code) || /disconnected before secure TLS connection/.test(err.message) || code === 'ECONNRESET') {
    return { kind: 'no-tls', detail };
  }
  if (/CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|HANDSHAKE_FAILURE|ACCESS_DENIED/.test(code)) {
    return { kind: 'client-cert-refused', detail };
  }
  if (code === 'ETIMEDOUT') return { kind: 'no-tls', detail };
  return { kind: 'other', detail };
}

function certName(cert: PeerCertificate): string {
  const subject = cert.subject?.CN ?? JSON.stringify(cert.subject ?? {});
  const issuer = cert.issuer?.CN ?? JSON.stringify(cert.issuer ?? {});
  return `${subject}, issued by ${issuer}${cert.subjectaltname ? `, for ${cert.subjectaltname}` : ''}`;
}
