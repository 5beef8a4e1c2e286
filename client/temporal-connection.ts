/**
 * Where the CLI and the workers find their Temporal server, read the way Temporal's own tools
 * read it (@temporalio/envconfig): a profile of the TOML config file (TEMPORAL_CONFIG_FILE,
 * default ~/.config/temporalio/temporal.toml; TEMPORAL_PROFILE, default "default"), overridden
 * by TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*, TEMPORAL_GRPC_META_*.
 * On top of the SDK's loading: defaults (localhost:7233, namespace "default"), certificate
 * files checked up front with the variable or profile key that named them, and a description
 * for logs that never holds a secret.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { loadClientConfigProfile, toClientOptions, type ClientConfigProfile, type ConfigDataSource } from '@temporalio/envconfig';
import type { TLSConfig } from '@temporalio/client';

export const DEFAULT_TEMPORAL_ADDRESS = 'localhost:7233';
export const DEFAULT_NAMESPACE = 'default';

/** What Connection.connect (CLI) and NativeConnection.connect (worker) both take. */
export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
  metadata?: Record<string, string>;
}

export interface TemporalConnection {
  address: string;
  namespace: string;
  options: TemporalConnectionOptions;
  /** For logs and messages: address, namespace, TLS and where its files came from, whether an API key is set. Never a secret. */
  description: string;
  /** Settings that look meant for Temporal but that Temporal's tools ignore (a misspelt variable). */
  warnings: string[];
}

/** The connection settings cannot work as given (a missing file, a profile that is not there...). */
export class TemporalSettingsError extends Error {}

type Env = Record<string, string | undefined>;

interface TlsFile {
  field: 'serverCACert' | 'clientCert' | 'clientKey';
  what: string;
  variable: string;
  tomlKey: string;
}

const TLS_FILES: TlsFile[] = [
  { field: 'serverCACert', what: 'server CA certificate', variable: 'TEMPORAL_TLS_SERVER_CA_CERT', tomlKey: 'server_ca_cert' },
  { field: 'clientCert', what: 'client certificate', variable: 'TEMPORAL_TLS_CLIENT_CERT', tomlKey: 'client_cert' },
  { field: 'clientKey', what: 'client key', variable: 'TEMPORAL_TLS_CLIENT_KEY', tomlKey: 'client_key' },
];

/** Temporal's TLS variables (the SDKs' and the CLI's environment configuration). */
const KNOWN_TLS_VARIABLES = new Set([
  'TEMPORAL_TLS',
  'TEMPORAL_TLS_SERVER_NAME',
  'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION',
  ...TLS_FILES.flatMap((f) => [`${f.variable}_PATH`, `${f.variable}_DATA`]),
]);

export function loadTemporalConnection(env: Env = process.env): TemporalConnection {
  const vars = definedOnly(env);
  const configFile = vars.TEMPORAL_CONFIG_FILE;
  if (configFile !== undefined && !existsSync(configFile)) {
    throw new TemporalSettingsError(`TEMPORAL_CONFIG_FILE names ${configFile}, which does not exist: create it or unset TEMPORAL_CONFIG_FILE`);
  }
  if (envBool(vars.TEMPORAL_TLS_DISABLE_HOST_VERIFICATION)) {
    throw new TemporalSettingsError(
      'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION is not supported by the Temporal TypeScript SDK that pgferry uses: set TEMPORAL_TLS_SERVER_NAME to a name the server certificate holds instead',
    );
  }
  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({ overrideEnvVars: vars });
  } catch (err) {
    const message = (err as Error).message;
    if (vars.TEMPORAL_PROFILE !== undefined && /^Profile '.*' not found/.test(message)) {
      throw new TemporalSettingsError(`TEMPORAL_PROFILE=${vars.TEMPORAL_PROFILE}: there is no [profile.${vars.TEMPORAL_PROFILE}] in ${configFileName(vars)}`);
    }
    throw new TemporalSettingsError(`Temporal connection settings (${profileName(vars)}, and TEMPORAL_* variables): ${message}`);
  }

  const tls = profile.tls && !profile.tls.disabled ? profile.tls : undefined;
  if (tls) {
    for (const file of TLS_FILES) {
      const source = tls[file.field];
      if (source) checkTlsFile(file, source, vars);
    }
    if (Boolean(tls.clientCert) !== Boolean(tls.clientKey)) {
      const [given, missing] = tls.clientCert ? [TLS_FILES[1], TLS_FILES[2]] : [TLS_FILES[2], TLS_FILES[1]];
      throw new TemporalSettingsError(`a Temporal TLS ${given.what} is set but no ${missing.what}: set ${missing.variable}_PATH too (or tls.${missing.tomlKey}_path in the profile)`);
    }
    if (tls.clientCert && tls.clientKey) checkClientPair(tls.clientCert, tls.clientKey, vars);
  }

  let connect;
  try {
    connect = toClientOptions(profile);
  } catch (err) {
    throw new TemporalSettingsError(`Temporal connection settings (${profileName(vars)}, and TEMPORAL_* variables): ${(err as Error).message}`);
  }
  const options: TemporalConnectionOptions = {
    address: connect.connectionOptions.address || DEFAULT_TEMPORAL_ADDRESS,
    tls: connect.connectionOptions.tls ?? undefined,
    apiKey: connect.connectionOptions.apiKey,
    metadata: connect.connectionOptions.metadata as Record<string, string> | undefined,
  };
  const namespace = connect.namespace || DEFAULT_NAMESPACE;
  return { address: options.address, namespace, options, description: describe(options, namespace, profile, vars), warnings: misspeltVariables(vars) };
}

function definedOnly(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

function envBool(value: string | undefined): boolean {
  return value === '1' || value === 'true';
}

function configFileName(vars: Env): string {
  return vars.TEMPORAL_CONFIG_FILE ?? 'the Temporal config file (TEMPORAL_CONFIG_FILE, default ~/.config/temporalio/temporal.toml)';
}

function profileName(vars: Env): string {
  return `profile "${vars.TEMPORAL_PROFILE ?? 'default'}" of ${configFileName(vars)}`;
}

/** The variable (it overrides the profile) or else the profile key that gave a TLS file. */
function origin(file: TlsFile, source: ConfigDataSource, vars: Env): string {
  const suffix = 'path' in source ? 'PATH' : 'DATA';
  const variable = `${file.variable}_${suffix}`;
  if (vars[variable] !== undefined) return variable;
  return `tls.${file.tomlKey}_${suffix.toLowerCase()} in ${profileName(vars)}`;
}

/** `/etc/pki/client.pem (from TEMPORAL_TLS_CLIENT_CERT_PATH)`, or `(from TEMPORAL_TLS_CLIENT_CERT_DATA)`. */
function named(file: TlsFile, source: ConfigDataSource, vars: Env): string {
  return `${'path' in source ? `${source.path} ` : ''}(from ${origin(file, source, vars)})`;
}

function readSource(file: TlsFile, source: ConfigDataSource, vars: Env): Buffer {
  if (!('path' in source)) return Buffer.from(source.data);
  try {
    return readFileSync(source.path);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new TemporalSettingsError(`cannot read the Temporal ${file.what} ${named(file, source, vars)}: ${reason}`);
  }
}

function checkTlsFile(file: TlsFile, source: ConfigDataSource, vars: Env): void {
  const data = readSource(file, source, vars);
  try {
    if (file.field === 'clientKey') createPrivateKey(data);
    else new X509Certificate(data);
  } catch {
    throw new TemporalSettingsError(`the Temporal ${file.what} ${named(file, source, vars)} is not a PEM ${file.field === 'clientKey' ? 'private key' : 'certificate'}`);
  }
}

function checkClientPair(certSource: ConfigDataSource, keySource: ConfigDataSource, vars: Env): void {
  const [, certFile, keyFile] = TLS_FILES;
  const cert = new X509Certificate(readSource(certFile, certSource, vars));
  if (!cert.checkPrivateKey(createPrivateKey(readSource(keyFile, keySource, vars)))) {
    throw new TemporalSettingsError(`the Temporal client certificate ${named(certFile, certSource, vars)} does not match the client key ${named(keyFile, keySource, vars)}`);
  }
  if (Date.parse(cert.validTo) < Date.now()) {
    throw new TemporalSettingsError(`the Temporal client certificate ${named(certFile, certSource, vars)} expired on ${new Date(cert.validTo).toISOString()}`);
  }
}

function describe(options: TemporalConnectionOptions, namespace: string, profile: ClientConfigProfile, vars: Env): string {
  const parts = [`namespace ${namespace}`];
  if (options.tls) {
    const tls = profile.tls ?? {};
    const details = [TLS_FILES[0], TLS_FILES[1]].filter((f) => tls[f.field]).map((f) => `${f.what} ${named(f, tls[f.field]!, vars)}`);
    if (tls.serverName) details.push(`server name ${tls.serverName}`);
    parts.push(details.length ? `TLS with ${details.join(', ')}` : 'TLS');
  }
  if (options.apiKey !== undefined) parts.push('API key');
  if (options.metadata && Object.keys(options.metadata).length) parts.push(`gRPC metadata ${Object.keys(options.metadata).join(', ')}`);
  return `${options.address} (${parts.join('; ')})`;
}

/** TEMPORAL_TLS_* variables Temporal's tools do not read, with the one that was probably meant. */
function misspeltVariables(vars: Env): string[] {
  return Object.keys(vars)
    .filter((name) => name.startsWith('TEMPORAL_TLS_') && !KNOWN_TLS_VARIABLES.has(name))
    .sort()
    .map((name) => {
      const suffix = name.endsWith('_DATA') ? 'DATA' : 'PATH';
      const meant = /KEY/.test(name) ? 'TEMPORAL_TLS_CLIENT_KEY' : /CA/.test(name) ? 'TEMPORAL_TLS_SERVER_CA_CERT' : /CERT/.test(name) ? 'TEMPORAL_TLS_CLIENT_CERT' : undefined;
      return `${name} is not one of Temporal's variables and is ignored${meant ? `: did you mean ${meant}_${suffix}?` : ''}`;
    });
}
