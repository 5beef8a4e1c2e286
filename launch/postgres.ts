/**
 * Throwaway PostgreSQL clusters for tests, the quickstart and the benchmark: initdb + pg_ctl
 * from the system's PostgreSQL 15 binaries, on a free port, in a temporary directory.
 * initdb and postgres refuse to run as root, so as root they run as the `postgres` OS user.
 */
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { freePort } from './ports';

const run = promisify(execFile);
export const PG_BIN = process.env.PGFERRY_PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface PgCluster {
  host: string;
  port: number;
  user: string;
  password?: string;
  dataDir: string;
  /** postgres://postgres@127.0.0.1:PORT/db, without the password. */
  url(db?: string): string;
  query<T = any>(sql: string, db?: string, params?: unknown[]): Promise<T[]>;
  /** A connected client of its own (background socket errors ignored); the caller ends it. */
  connect(db?: string): Promise<Client>;
  createDatabase(name: string): Promise<void>;
  /** psql -f file, with `-v name=value` variables; the password goes in the environment. */
  psqlFile(file: string, db?: string, vars?: Record<string, string>): Promise<void>;
  /** Restarts the server on the same port with these server settings (ALTER SYSTEM); other settings kept. */
  restart(settings: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  name?: string;
  logical?: boolean;
  password?: string;
  settings?: Record<string, string>;
  /** Keep the data directory here instead of a fresh temporary one. */
  dataDir?: string;
  /** Serve TLS only (self-signed certificate for 127.0.0.1, in `<dataDir>/server.crt`). */
  tlsOnly?: boolean;
  /** How a port is picked (default: a free one): a test gives its own, to make a pick collide. */
  pickPort?: () => Promise<number>;
}

const running = new Set<PgCluster>();
process.on('exit', () => {
  for (const c of running) spawnSync(PG_BIN + '/pg_ctl', ['-D', c.dataDir, 'stop', '-m', 'immediate'], asPostgresOpts());
});

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Runs a PostgreSQL server program, as the postgres OS user when we are root. */
async function pgProgram(program: string, args: string[]): Promise<string> {
  const [cmd, fullArgs] = isRoot() ? ['runuser', ['-u', 'postgres', '--', join(PG_BIN, program), ...args]] : [join(PG_BIN, program), args];
  const { stdout } = await run(cmd, fullArgs, { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

function asPostgresOpts() {
  return isRoot() ? { uid: postgresIds().uid, gid: postgresIds().gid } : {};
}

let ids: { uid: number; gid: number } | undefined;
function postgresIds(): { uid: number; gid: number } {
  if (!ids) {
    const uid = Number(spawnSync('id', ['-u', 'postgres']).stdout.toString().trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres']).stdout.toString().trim());
    ids = { uid, gid };
  }
  return ids;
}

const TEST_SETTINGS: Record<string, string> = {
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  shared_buffers: '128MB',
  max_connections: '100',
  max_replication_slots: '10',
  max_wal_senders: '10',
};

/** Launches that may fail because the port picked free was taken before the server bound it. */
const START_ATTEMPTS = 5;

/**
 * Starts the server on a port picked free, writing its settings for that port first; a port
 * taken meanwhile (by another process's outgoing connection, say) is picked again. Returns the port.
 */
async function startOnFreePort(dataDir: string, logFile: string, settingsFor: (port: number) => Record<string, string>, pickPort = freePort): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const port = await pickPort();
    const conf = Object.entries(settingsFor(port)).map(([k, v]) => `${k} = ${/^'.*'$/.test(v) || /^[\w.]+$/.test(v) ? v : `'${v}'`}`).join('\n');
    writeFileSync(join(dataDir, 'postgresql.auto.conf'), conf + '\n');
    if (isRoot()) chownSync(join(dataDir, 'postgresql.auto.conf'), postgresIds().uid, postgresIds().gid);
    const logStart = existsSync(logFile) ? statSync(logFile).size : 0;
    try {
      await pgProgram('pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', '60', 'start']);
      return port;
    } catch (err) {
      const log = existsSync(logFile) ? readFileSync(logFile).subarray(logStart).toString('utf8') : '';
      if (attempt < START_ATTEMPTS && /could not bind .*Address already in use/.test(log)) continue;
      throw new Error(`PostgreSQL did not start (${(err as Error).message}). Server log:\n${log.slice(-2000)}`);
    }
  }
}

export async function startPostgres(opts: StartOptions = {}): Promise<PgCluster> {
  const base = opts.dataDir ?? mkdtempSync(join(tmpdir(), `pgferry-${opts.name ?? 'pg'}-`));
  if (isRoot()) chownSync(base, postgresIds().uid, postgresIds().gid);
  chmodSync(base, 0o700);
  const dataDir = join(base, 'data');

  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    const initArgs = ['-D', dataDir, '-U', 'postgres', '-E', 'UTF8', '--locale=C.UTF-8', '--auth-local=trust', '--no-sync'];
    if (opts.password !== undefined) {
      const pwFile = join(base, 'pw');
      writeFileSync(pwFile, opts.password + '\n', { mode: 0o600 });
      if (isRoot()) chownSync(pwFile, postgresIds().uid, postgresIds().gid);
      initArgs.push('--auth-host=scram-sha-256', `--pwfile=${pwFile}`);
    } else {
      initArgs.push('--auth-host=trust');
    }
    await pgProgram('initdb', initArgs);
  }

  if (opts.tlsOnly) await enableTlsOnly(dataDir);

  const logFile = join(base, 'server.log');
  const port = await startOnFreePort(dataDir, logFile, (port) => ({
    ...TEST_SETTINGS,
    ...(opts.tlsOnly ? { ssl: 'on' } : {}),
    wal_level: opts.logical ? 'logical' : 'replica',
    ...opts.settings,
    port: String(port),
    listen_addresses: "'127.0.0.1'",
    unix_socket_directories: `'${dataDir}'`,
  }), opts.pickPort);

  const cluster: PgCluster = {
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password: opts.password,
    dataDir,
    url: (db = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${encodeURIComponent(db)}`,
    async connect(db = 'postgres') {
      const client = new Client({ host: '127.0.0.1', port, user: 'postgres', database: db, password: opts.password, ssl: opts.tlsOnly ? { rejectUnauthorized: false } : false });
      client.on('error', () => undefined);
      await client.connect();
      return client;
    },
    async query<T>(sql: string, db = 'postgres', params?: unknown[]) {
      const client = await cluster.connect(db);
      try {
        const result = await client.query(sql, params as unknown[]);
        const last = Array.isArray(result) ? result[result.length - 1] : result;
        return last.rows as T[];
      } finally {
        await client.end();
      }
    },
    async createDatabase(name: string) {
      await cluster.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    },
    async psqlFile(file: string, db = 'postgres', vars: Record<string, string> = {}) {
      const args = ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', db, '-f', file];
      for (const [k, v] of Object.entries(vars)) args.push('-v', `${k}=${v}`);
      await run(join(PG_BIN, 'psql'), args, { env: { ...process.env, PGPASSWORD: opts.password ?? '', PGSSLMODE: opts.tlsOnly ? 'require' : 'prefer' }, maxBuffer: 64 * 1024 * 1024 });
    },
    async restart(changed: Record<string, string>) {
      for (const [name, value] of Object.entries(changed)) await cluster.query(`ALTER SYSTEM SET ${name} = '${value.replace(/'/g, "''")}'`);
      await pgProgram('pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', '60', '-m', 'fast', 'restart']);
    },
    async stop() {
      running.delete(cluster);
      await pgProgram('pg_ctl', ['-D', dataDir, 'stop', '-m', 'fast', '-w']).catch(() => undefined);
      if (!opts.dataDir) rmSync(base, { recursive: true, force: true });
    },
  };
  running.add(cluster);
  return cluster;
}

/** A self-signed certificate for 127.0.0.1, and pg_hba rules that refuse plain TCP. */
async function enableTlsOnly(dataDir: string): Promise<void> {
  const crt = join(dataDir, 'server.crt');
  const key = join(dataDir, 'server.key');
  await run('openssl', ['req', '-new', '-x509', '-days', '2', '-nodes', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', crt]);
  chmodSync(key, 0o600);
  chmodSync(crt, 0o644);
  if (isRoot()) {
    chownSync(key, postgresIds().uid, postgresIds().gid);
    chownSync(crt, postgresIds().uid, postgresIds().gid);
  }
  const hba = join(dataDir, 'pg_hba.conf');
  writeFileSync(hba, `hostnossl all all 0.0.0.0/0 reject\nhostnossl all all ::/0 reject\n${readFileSync(hba, 'utf8')}`);
}
