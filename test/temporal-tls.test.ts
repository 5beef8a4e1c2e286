/**
 * Workers and the CLI reach a production-style Temporal: TLS, mutual TLS, a TOML profile and an
 * API key, set only through Temporal's own environment variables and config file. haproxy
 * terminates TLS in front of the test's dev server (test/support/tls-proxy.ts); each case runs
 * a real migration with a worker process and the CLI, and the failures say what to change.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { makeCertificates, type TestCertificates } from './support/certificates';
import { runCli, tableChecksums, uniqueTaskQueue, writeSpec } from './support/harness';
import { startPostgres, type PgCluster } from '../launch/postgres';
import { startTlsProxy, type TlsProxy } from './support/tls-proxy';
import { startWorkerProcess } from '../launch/worker';

type Env = Record<string, string | undefined>;

describe('Temporal over TLS', () => {
  const apiKey = `pgferry-test-key-${randomUUID()}`;
  let certs: TestCertificates;
  let proxy: TlsProxy;
  let source: PgCluster;
  let target: PgCluster;
  let cleanEnv: Env;

  beforeAll(async () => {
    certs = makeCertificates();
    proxy = await startTlsProxy({ target: inject('temporalAddress'), certs, apiKey });
    [source, target] = await Promise.all([startPostgres({ name: 'ttls-src' }), startPostgres({ name: 'ttls-tgt' })]);
    await source.createDatabase('app');
    await source.query(
      `CREATE TABLE orders (id bigserial PRIMARY KEY, customer text NOT NULL, total numeric(10,2));
       INSERT INTO orders (customer, total) SELECT 'c' || g, g * 1.25 FROM generate_series(1, 2000) g;`,
      'app',
    );
    // Only what each case sets: no TEMPORAL_* from the test's own environment, no user config file.
    cleanEnv = { XDG_CONFIG_HOME: mkdtempSync(join(tmpdir(), 'pgferry-xdg-')) };
    for (const name of Object.keys(process.env)) if (name.startsWith('TEMPORAL_')) cleanEnv[name] = undefined;
  });

  afterAll(async () => {
    await proxy?.stop();
    await Promise.all([source?.stop(), target?.stop()]);
  });

  /** A worker and `pgferry start --wait`, both with `env`, migrate source app into target <name>. */
  async function migrate(name: string, vars: Env): Promise<{ workerOutput: string; cli: string }> {
    const env = { ...cleanEnv, ...vars };
    const taskQueue = uniqueTaskQueue(name);
    const worker = await startWorkerProcess({ taskQueue, env });
    try {
      await target.createDatabase(name);
      const spec = writeSpec({ source: source.url('app'), target: target.url(name) });
      const run = await runCli(['start', spec, '--wait'], { ...env, PGFERRY_TASK_QUEUE: taskQueue });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(await tableChecksums(target, name)).toEqual(await tableChecksums(source, 'app'));
      return { workerOutput: worker.output(), cli: run.stdout + run.stderr };
    } finally {
      await worker.stop();
    }
  }

  /** A worker that must stop before it is ready; its output. */
  async function workerFailure(vars: Env): Promise<string> {
    const started = startWorkerProcess({ taskQueue: uniqueTaskQueue('refused'), env: { ...cleanEnv, ...vars } });
    const err = await started.then(
      async (w) => {
        await w.stop();
        throw new Error(`the worker connected:\n${w.output()}`);
      },
      (e: Error) => e,
    );
    return err.message;
  }

  it('TLS with the server CA: a worker and the CLI migrate; without TLS settings, with a missing CA file or an unknown namespace they say what to set', async () => {
    const { workerOutput } = await migrate('tls', { TEMPORAL_ADDRESS: proxy.tlsAddress, TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.ca });
    expect(workerOutput).toContain(`pgferry worker ready`);
    expect(workerOutput).toContain(`Temporal ${proxy.tlsAddress} (namespace default; TLS with server CA certificate ${certs.ca} (from TEMPORAL_TLS_SERVER_CA_CERT_PATH))`);

    const plain = await workerFailure({ TEMPORAL_ADDRESS: proxy.tlsAddress });
    expect(plain).toContain(`pgferry worker stopped: cannot connect to the Temporal server at ${proxy.tlsAddress} (namespace default): ${proxy.tlsAddress} expects TLS: set TEMPORAL_TLS=true`);

    const tls = { TEMPORAL_ADDRESS: proxy.tlsAddress, TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.ca };
    const namespace = await runCli(['list'], { ...cleanEnv, ...tls, TEMPORAL_NAMESPACE: 'no-such-namespace' });
    expect(namespace.code).toBe(2);
    expect(namespace.stderr.trim()).toBe(`the Temporal namespace "no-such-namespace" does not exist on ${proxy.tlsAddress}: set TEMPORAL_NAMESPACE (or the profile's namespace) to one of the server's namespaces`);
    expect(await workerFailure({ ...tls, TEMPORAL_NAMESPACE: 'no-such-namespace' })).toContain(`pgferry worker stopped: the Temporal namespace "no-such-namespace" does not exist`);

    const missing = join(certs.dir, 'no-such-ca.pem');
    const list = await runCli(['list'], { ...cleanEnv, TEMPORAL_ADDRESS: proxy.tlsAddress, TEMPORAL_TLS_SERVER_CA_CERT_PATH: missing });
    expect(list.code).toBe(2);
    expect(list.stderr.trim()).toBe(`cannot read the Temporal server CA certificate ${missing} (from TEMPORAL_TLS_SERVER_CA_CERT_PATH): no such file`);
  });

  it('mutual TLS: without a client certificate the CLI exits 3 saying so, a stranger certificate is refused, with the client certificate the migration runs', async () => {
    const withCa = { ...cleanEnv, TEMPORAL_ADDRESS: proxy.mtlsAddress, TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.ca };
    const list = await runCli(['list'], withCa);
    expect(list.code).toBe(3);
    expect(list.stderr).toMatch(/^cannot connect to the Temporal server at 127\.0\.0\.1:\d+ \(namespace default; TLS with server CA certificate .*\): the server requires a client certificate \(mTLS\) \[tlsv13 alert certificate required\]: set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH/);

    const stranger = await workerFailure({ ...withCa, TEMPORAL_TLS_CLIENT_CERT_PATH: certs.strangerCert, TEMPORAL_TLS_CLIENT_KEY_PATH: certs.strangerKey });
    expect(stranger).toMatch(/the server refused the client certificate \(tlsv1\d? alert unknown ca\): it must be signed by a CA the server trusts for clients/);

    const mtls = { TEMPORAL_ADDRESS: proxy.mtlsAddress, TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.ca, TEMPORAL_TLS_CLIENT_CERT_PATH: certs.clientCert, TEMPORAL_TLS_CLIENT_KEY_PATH: certs.clientKey };
    const { workerOutput } = await migrate('mtls', mtls);
    expect(workerOutput).toContain(`client certificate ${certs.clientCert} (from TEMPORAL_TLS_CLIENT_CERT_PATH)`);
    const listed = await runCli(['list'], { ...cleanEnv, ...mtls });
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/\tCOMPLETED\t/);
  });

  it('a TOML profile chosen by TEMPORAL_CONFIG_FILE and TEMPORAL_PROFILE carries the address and the mTLS files; a file it names that is missing is reported with its key', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'pgferry-temporal-toml-')), 'temporal.toml');
    writeFileSync(
      file,
      `# The default profile leads nowhere: the test passes only if TEMPORAL_PROFILE picks "production".
[profile.default]
address = "127.0.0.1:1"

[profile.production]
address = "${proxy.mtlsAddress}"
namespace = "default"

[profile.production.tls]
server_ca_cert_path = "${certs.ca}"
client_cert_path = "${certs.clientCert}"
client_key_path = "${certs.clientKey}"

[profile.broken]
address = "${proxy.mtlsAddress}"

[profile.broken.tls]
server_ca_cert_path = "${certs.ca}"
client_cert_path = "${join(certs.dir, 'gone.pem')}"
client_key_path = "${certs.clientKey}"
`,
    );
    const { workerOutput } = await migrate('profile', { TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'production' });
    expect(workerOutput).toContain(`Temporal ${proxy.mtlsAddress} (namespace default; TLS with server CA certificate ${certs.ca} (from tls.server_ca_cert_path in profile "production" of ${file})`);

    const broken = await runCli(['list'], { ...cleanEnv, TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'broken' });
    expect(broken.code).toBe(2);
    expect(broken.stderr.trim()).toBe(`cannot read the Temporal client certificate ${join(certs.dir, 'gone.pem')} (from tls.client_cert_path in profile "broken" of ${file}): no such file`);
    const absent = await runCli(['list'], { ...cleanEnv, TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'staging' });
    expect(absent.code).toBe(2);
    expect(absent.stderr.trim()).toBe(`TEMPORAL_PROFILE=staging: there is no [profile.staging] in ${file}`);
  });

  it('an API key reaches the server from the CLI and the worker, a wrong one is refused clearly, and neither is ever printed', async () => {
    const wrongKey = `wrong-${randomUUID()}`;
    const base = { TEMPORAL_ADDRESS: proxy.apiKeyAddress, TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.ca };
    const refused = await runCli(['list'], { ...cleanEnv, ...base, TEMPORAL_API_KEY: wrongKey });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('the server refused the credentials: check TEMPORAL_API_KEY');
    expect(refused.stderr).toContain('16 UNAUTHENTICATED: missing or invalid API key');
    expect(refused.stdout + refused.stderr).not.toContain(wrongKey);
    const workerRefused = await workerFailure({ ...base, TEMPORAL_API_KEY: wrongKey });
    expect(workerRefused).toContain('the server refused the credentials: check TEMPORAL_API_KEY');
    expect(workerRefused).not.toContain(wrongKey);

    const { workerOutput, cli } = await migrate('apikey', { ...base, TEMPORAL_API_KEY: apiKey });
    expect(workerOutput).toMatch(/TLS with server CA certificate .*; API key\)/);
    expect(workerOutput + cli).not.toContain(apiKey);
  });
});
