/**
 * Temporal's environment variables and config profiles → the connection options of the CLI and
 * the workers (client/temporal-connection.ts, over @temporalio/envconfig), with real files.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTemporalConnection, TemporalSettingsError } from '../../client/temporal-connection';
import { splitAddress } from '../../client/temporal-diagnosis';
import { makeCertificates, type TestCertificates } from '../support/certificates';

describe('Temporal connection settings', () => {
  let certs: TestCertificates;
  let home: string;
  /** Only the given variables: no config file from the machine running the test. */
  const load = (vars: Record<string, string>) => loadTemporalConnection({ HOME: home, ...vars });
  const failure = (vars: Record<string, string>) => {
    try {
      load(vars);
    } catch (err) {
      expect(err).toBeInstanceOf(TemporalSettingsError);
      return (err as Error).message;
    }
    throw new Error('loaded without an error');
  };
  const toml = (text: string) => {
    const file = join(mkdtempSync(join(tmpdir(), 'pgferry-toml-')), 'temporal.toml');
    writeFileSync(file, text);
    return file;
  };

  beforeAll(() => {
    certs = makeCertificates();
    home = mkdtempSync(join(tmpdir(), 'pgferry-home-'));
  });

  it('keeps the defaults: localhost:7233, namespace default, plain text', () => {
    const c = load({});
    expect(c.options).toEqual({ address: 'localhost:7233', tls: undefined, apiKey: undefined, metadata: undefined });
    expect(c.namespace).toBe('default');
    expect(c.description).toBe('localhost:7233 (namespace default)');
    expect(c.warnings).toEqual([]);
  });

  it('takes TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE', () => {
    const c = load({ TEMPORAL_ADDRESS: 'temporal.internal:7233', TEMPORAL_NAMESPACE: 'migrations' });
    expect(c.address).toBe('temporal.internal:7233');
    expect(c.options.address).toBe('temporal.internal:7233');
    expect(c.namespace).toBe('migrations');
  });

  it('reads the server CA, the client pair and the server name into the TLS options', () => {
    const c = load({
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.ca,
      TEMPORAL_TLS_CLIENT_CERT_PATH: certs.clientCert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: certs.clientKey,
      TEMPORAL_TLS_SERVER_NAME: 'temporal.example',
    });
    expect(c.options.tls).toEqual({
      serverNameOverride: 'temporal.example',
      serverRootCACertificate: new Uint8Array(readFileSync(certs.ca)),
      clientCertPair: { crt: new Uint8Array(readFileSync(certs.clientCert)), key: new Uint8Array(readFileSync(certs.clientKey)) },
    });
    expect(c.description).toBe(
      `localhost:7233 (namespace default; TLS with server CA certificate ${certs.ca} (from TEMPORAL_TLS_SERVER_CA_CERT_PATH), client certificate ${certs.clientCert} (from TEMPORAL_TLS_CLIENT_CERT_PATH), server name temporal.example)`,
    );
  });

  it('takes certificates as data too, and TEMPORAL_TLS=true alone for TLS with the system CAs', () => {
    const pem = readFileSync(certs.ca, 'utf8');
    const c = load({ TEMPORAL_TLS_SERVER_CA_CERT_DATA: pem });
    expect(c.options.tls).toMatchObject({ serverRootCACertificate: new Uint8Array(Buffer.from(pem)) });
    expect(c.description).toBe('localhost:7233 (namespace default; TLS with server CA certificate (from TEMPORAL_TLS_SERVER_CA_CERT_DATA))');
    expect(load({ TEMPORAL_TLS: 'true' }).description).toBe('localhost:7233 (namespace default; TLS)');
    expect(load({ TEMPORAL_TLS: 'false', TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.ca }).options.tls).toBe(false);
  });

  it('passes an API key (which turns TLS on) and gRPC metadata, and never describes their values', () => {
    const c = load({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_NAMESPACE: 'ns.acct', TEMPORAL_API_KEY: 'secret-api-key', TEMPORAL_GRPC_META_X_TENANT: 'secret-tenant' });
    expect(c.options.apiKey).toBe('secret-api-key');
    expect(c.options.tls).toBe(true);
    expect(c.options.metadata).toEqual({ 'x-tenant': 'secret-tenant' });
    expect(c.description).toBe('ns.acct.tmprl.cloud:7233 (namespace ns.acct; TLS; API key; gRPC metadata x-tenant)');
    expect(JSON.stringify(c.warnings) + c.description).not.toMatch(/secret/);
    // An API key against a plain-text server (a local proxy that adds TLS): TEMPORAL_TLS=false wins.
    expect(load({ TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' }).options.tls).toBe(false);
  });

  it('reads a profile of the TOML file, variables overriding it', () => {
    const file = toml(`[profile.default]
address = "nowhere:1"

[profile.prod]
address = "temporal.prod:7233"
namespace = "prod"
api_key = "profile-key"

[profile.prod.tls]
server_ca_cert_path = "${certs.ca}"
client_cert_path = "${certs.clientCert}"
client_key_path = "${certs.clientKey}"

[profile.prod.grpc_meta]
x-team = "dba"
`);
    const c = load({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod' });
    expect(c.options).toMatchObject({ address: 'temporal.prod:7233', apiKey: 'profile-key', metadata: { 'x-team': 'dba' } });
    expect(c.options.tls).toMatchObject({ serverRootCACertificate: new Uint8Array(readFileSync(certs.ca)) });
    expect(c.namespace).toBe('prod');
    expect(c.description).toBe(
      `temporal.prod:7233 (namespace prod; TLS with server CA certificate ${certs.ca} (from tls.server_ca_cert_path in profile "prod" of ${file}), client certificate ${certs.clientCert} (from tls.client_cert_path in profile "prod" of ${file}); API key; gRPC metadata x-team)`,
    );
    const overridden = load({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod', TEMPORAL_ADDRESS: 'other:7233', TEMPORAL_NAMESPACE: 'other' });
    expect([overridden.address, overridden.namespace]).toEqual(['other:7233', 'other']);
    expect(load({ TEMPORAL_CONFIG_FILE: file }).address).toBe('nowhere:1');
  });

  it('reads the default profile of ~/.config/temporalio/temporal.toml, as Temporal\'s tools do', () => {
    const xdg = mkdtempSync(join(tmpdir(), 'pgferry-xdg-'));
    const dir = join(xdg, 'temporalio');
    mkdirSync(dir);
    writeFileSync(join(dir, 'temporal.toml'), '[profile.default]\naddress = "from-user-config:7233"\n');
    expect(load({ XDG_CONFIG_HOME: xdg }).address).toBe('from-user-config:7233');
  });

  it('names the file and the variable (or profile key) of a certificate it cannot read or parse', () => {
    const gone = join(certs.dir, 'gone.pem');
    expect(failure({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: gone })).toBe(`cannot read the Temporal server CA certificate ${gone} (from TEMPORAL_TLS_SERVER_CA_CERT_PATH): no such file`);
    expect(failure({ TEMPORAL_TLS_CLIENT_CERT_PATH: certs.clientCert, TEMPORAL_TLS_CLIENT_KEY_PATH: gone })).toBe(
      `cannot read the Temporal client key ${gone} (from TEMPORAL_TLS_CLIENT_KEY_PATH): no such file`,
    );
    const file = toml(`[profile.default.tls]\nserver_ca_cert_path = "${gone}"\n`);
    expect(failure({ TEMPORAL_CONFIG_FILE: file })).toBe(`cannot read the Temporal server CA certificate ${gone} (from tls.server_ca_cert_path in profile "default" of ${file}): no such file`);
    expect(failure({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.clientKey })).toBe(
      `the Temporal server CA certificate ${certs.clientKey} (from TEMPORAL_TLS_SERVER_CA_CERT_PATH) is not a PEM certificate`,
    );
    expect(failure({ TEMPORAL_TLS_CLIENT_CERT_PATH: certs.clientCert, TEMPORAL_TLS_CLIENT_KEY_PATH: certs.clientCert })).toBe(
      `the Temporal client key ${certs.clientCert} (from TEMPORAL_TLS_CLIENT_KEY_PATH) is not a PEM private key`,
    );
  });

  it('refuses half a client pair, a pair that does not match, and both a path and data', () => {
    expect(failure({ TEMPORAL_TLS_CLIENT_CERT_PATH: certs.clientCert })).toBe(
      'a Temporal TLS client certificate is set but no client key: set TEMPORAL_TLS_CLIENT_KEY_PATH too (or tls.client_key_path in the profile)',
    );
    expect(failure({ TEMPORAL_TLS_CLIENT_KEY_PATH: certs.clientKey })).toBe(
      'a Temporal TLS client key is set but no client certificate: set TEMPORAL_TLS_CLIENT_CERT_PATH too (or tls.client_cert_path in the profile)',
    );
    expect(failure({ TEMPORAL_TLS_CLIENT_CERT_PATH: certs.clientCert, TEMPORAL_TLS_CLIENT_KEY_PATH: certs.strangerKey })).toBe(
      `the Temporal client certificate ${certs.clientCert} (from TEMPORAL_TLS_CLIENT_CERT_PATH) does not match the client key ${certs.strangerKey} (from TEMPORAL_TLS_CLIENT_KEY_PATH)`,
    );
    expect(failure({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.ca, TEMPORAL_TLS_SERVER_CA_CERT_DATA: readFileSync(certs.ca, 'utf8') })).toMatch(
      /^Temporal connection settings \(profile "default" of the Temporal config file .*\): Cannot specify both server_ca_cert_path and server_ca_cert_data$/,
    );
  });

  it('says which config file or profile is missing, and what is wrong in a TOML file', () => {
    const gone = join(home, 'missing.toml');
    expect(failure({ TEMPORAL_CONFIG_FILE: gone })).toBe(`TEMPORAL_CONFIG_FILE names ${gone}, which does not exist: create it or unset TEMPORAL_CONFIG_FILE`);
    const file = toml('[profile.default]\naddress = "a:1"\n');
    expect(failure({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod' })).toBe(`TEMPORAL_PROFILE=prod: there is no [profile.prod] in ${file}`);
    const bad = toml('[profile.default\naddress = 1\n');
    expect(failure({ TEMPORAL_CONFIG_FILE: bad })).toMatch(new RegExp(`^Temporal connection settings \\(profile "default" of ${bad}, and TEMPORAL_\\* variables\\): `));
  });

  it('refuses host verification turned off (the TypeScript SDK cannot) and warns about variables Temporal does not read', () => {
    expect(failure({ TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: 'true' })).toMatch(/^TEMPORAL_TLS_DISABLE_HOST_VERIFICATION is not supported .*: set TEMPORAL_TLS_SERVER_NAME/);
    expect(load({ TEMPORAL_TLS_CA_CERT_PATH: certs.ca, TEMPORAL_TLS_CERT: certs.clientCert, TEMPORAL_TLS_KEY_DATA: 'x' }).warnings).toEqual([
      "TEMPORAL_TLS_CA_CERT_PATH is not one of Temporal's variables and is ignored: did you mean TEMPORAL_TLS_SERVER_CA_CERT_PATH?",
      "TEMPORAL_TLS_CERT is not one of Temporal's variables and is ignored: did you mean TEMPORAL_TLS_CLIENT_CERT_PATH?",
      "TEMPORAL_TLS_KEY_DATA is not one of Temporal's variables and is ignored: did you mean TEMPORAL_TLS_CLIENT_KEY_DATA?",
    ]);
  });

  it('splits host:port addresses, IPv6 included', () => {
    expect(splitAddress('temporal.example:7233')).toEqual({ host: 'temporal.example', port: 7233 });
    expect(splitAddress('[::1]:7233')).toEqual({ host: '::1', port: 7233 });
    expect(splitAddress('temporal.example')).toBeUndefined();
  });
});
