/**
 * haproxy in front of a plain-text Temporal server, as a production deployment puts a TLS
 * terminator or load balancer in front of Temporal's frontend (the dev server has no TLS
 * options). Three listeners: TLS, mutual TLS (client certificate signed by the CA required),
 * and TLS that lets a request through only with `Authorization: Bearer <apiKey>` (answering
 * others with gRPC's UNAUTHENTICATED, as Temporal Cloud does). All offer HTTP/2 by ALPN, which
 * the worker's gRPC client (tonic) requires: stunnel cannot, haproxy can.
 * haproxy comes from scripts/setup.sh (Debian package).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { TestCertificates } from './certificates';
import { freePort } from '../../launch/ports';

export interface TlsProxy {
  tlsAddress: string;
  mtlsAddress: string;
  apiKeyAddress: string;
  stop(): Promise<void>;
}

export function haproxyPath(): string {
  const onPath = spawnSync('sh', ['-c', 'command -v haproxy']).stdout.toString().trim();
  if (onPath) return onPath;
  if (existsSync('/usr/sbin/haproxy')) return '/usr/sbin/haproxy';
  throw new Error('haproxy not found: run `bash scripts/setup.sh` (it installs the Debian package haproxy)');
}

export async function startTlsProxy(opts: { target: string; certs: TestCertificates; apiKey: string }): Promise<TlsProxy> {
  const { certs } = opts;
  const bundle = join(certs.dir, 'haproxy-server.pem');
  writeFileSync(bundle, readFileSync(certs.serverCert, 'utf8') + readFileSync(certs.serverKey, 'utf8'));
  const [tlsPort, mtlsPort, apiKeyPort] = [await freePort(), await freePort(), await freePort()];
  const config = join(certs.dir, 'haproxy.cfg');
  writeFileSync(
    config,
    `global
  maxconn 200
defaults
  mode tcp
  timeout connect 5s
  timeout client 10m
  timeout server 10m
frontend tls
  bind 127.0.0.1:${tlsPort} ssl crt ${bundle} alpn h2
  default_backend temporal
frontend mtls
  bind 127.0.0.1:${mtlsPort} ssl crt ${bundle} alpn h2 ca-file ${certs.ca} verify required
  default_backend temporal
frontend apikey
  mode http
  bind 127.0.0.1:${apiKeyPort} ssl crt ${bundle} alpn h2
  http-request return status 200 hdr grpc-status 16 hdr grpc-message "missing or invalid API key" if !{ req.hdr(authorization) -m str "Bearer ${opts.apiKey}" }
  default_backend temporal_h2
backend temporal
  server temporal ${opts.target}
backend temporal_h2
  mode http
  server temporal ${opts.target} proto h2
`,
  );
  const child = spawn(haproxyPath(), ['-db', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.on('exit', () => child.kill('SIGKILL'));
  for (const port of [tlsPort, mtlsPort, apiKeyPort]) {
    const deadline = Date.now() + 10_000;
    while (!(await accepts(port))) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`haproxy did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const address = (port: number) => `127.0.0.1:${port}`;
  return {
    tlsAddress: address(tlsPort),
    mtlsAddress: address(mtlsPort),
    apiKeyAddress: address(apiKeyPort),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
