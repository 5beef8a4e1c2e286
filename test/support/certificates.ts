/**
 * Certificates for TLS tests, made with the openssl CLI in a temporary directory: a CA, a
 * server certificate for localhost and 127.0.0.1, a client certificate signed by the CA, and a
 * client certificate from another CA (one the server does not trust).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificates {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** Signed by a CA the server does not know. */
  strangerCert: string;
  strangerKey: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function newKey(cwd: string, name: string): string {
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', name], cwd);
  return join(cwd, name);
}

function selfSignedCa(cwd: string, name: string): { cert: string; key: string } {
  const key = newKey(cwd, `${name}.key`);
  openssl(['req', '-x509', '-new', '-key', key, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`], cwd);
  return { cert: join(cwd, `${name}.pem`), key };
}

function signed(cwd: string, name: string, ca: { cert: string; key: string }, extensions: string): { cert: string; key: string } {
  const key = newKey(cwd, `${name}.key`);
  writeFileSync(join(cwd, `${name}.ext`), extensions);
  openssl(['req', '-new', '-key', key, '-out', `${name}.csr`, '-subj', `/CN=${name}`], cwd);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`], cwd);
  return { cert: join(cwd, `${name}.pem`), key };
}

export function makeCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'pgferry-certs-'));
  const ca = selfSignedCa(dir, 'test-ca');
  const server = signed(dir, 'localhost', ca, 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  const client = signed(dir, 'pgferry-worker', ca, 'extendedKeyUsage=clientAuth\n');
  const strangerCa = selfSignedCa(dir, 'stranger-ca');
  const stranger = signed(dir, 'stranger', strangerCa, 'extendedKeyUsage=clientAuth\n');
  return { dir, ca: ca.cert, serverCert: server.cert, serverKey: server.key, clientCert: client.cert, clientKey: client.key, strangerCert: stranger.cert, strangerKey: stranger.key };
}
