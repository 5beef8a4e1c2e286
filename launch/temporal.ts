/**
 * The real Temporal dev server (`temporal server start-dev`) as a child process, for tests,
 * the quickstart and the benchmark. The binary comes from scripts/setup.sh.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { freePort } from './ports';
import { cliTypeName, PGFERRY_SEARCH_ATTRIBUTES } from '../common/search-attributes';
import { repoRoot } from './repo-root';

const REPO = repoRoot();

export function temporalCliPath(): string {
  if (process.env.TEMPORAL_CLI) return process.env.TEMPORAL_CLI;
  for (const candidate of [join(REPO, '.tools', 'bin', 'temporal'), join(REPO, '..', '.tools', 'bin', 'temporal')]) {
    if (existsSync(candidate)) return candidate;
  }
  const onPath = spawnSync('sh', ['-c', 'command -v temporal']).stdout.toString().trim();
  if (onPath) return onPath;
  throw new Error('no Temporal CLI found: run `bash scripts/setup.sh` (it builds it into .tools/bin) or set TEMPORAL_CLI');
}

export interface TemporalServer {
  address: string;
  namespace: string;
  uiPort?: number;
  stop(): Promise<void>;
  /** Stops and starts the same server (same ports and database file). */
  restart(): Promise<void>;
}

/** Launches that may fail because a port picked free was taken meanwhile (by another process's outgoing connection, say). */
const LAUNCH_ATTEMPTS = 5;

/**
 * Starts the dev server. Ports not given are picked free; a port can be taken between its
 * pick and the server's bind (the Web UI binds last), so such a launch is tried again on
 * other ports. `ui: true` serves the Web UI on a port picked free (`uiPort` on the result).
 */
export async function startTemporalServer(
  opts: { dbFile?: string; ui?: boolean; uiPort?: number; port?: number; searchAttributes?: boolean; pickPort?: () => Promise<number> } = {},
): Promise<TemporalServer> {
  const pick = opts.pickPort ?? freePort; // a test gives its own, to make a pick collide
  const ports = { port: opts.port ?? (await pick()), httpPort: await pick(), metricsPort: await pick(), uiPort: opts.uiPort ?? (opts.ui ? await pick() : undefined) };
  const args = () => {
    const list = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(ports.port), '--http-port', String(ports.httpPort), '--metrics-port', String(ports.metricsPort), '--log-level', 'error'];
    list.push('--dynamic-config-value', 'frontend.enableUpdateWorkflowExecution=true');
    // pgferry's own search attributes (common/search-attributes.ts), for the Web UI's list.
    if (opts.searchAttributes !== false) for (const key of PGFERRY_SEARCH_ATTRIBUTES) list.push('--search-attribute', `${key.name}=${cliTypeName(key.type)}`);
    if (opts.dbFile) list.push('--db-filename', opts.dbFile);
    if (ports.uiPort) list.push('--ui-port', String(ports.uiPort));
    else list.push('--headless');
    return list;
  };

  let child: ChildProcess;
  let output = '';
  const launch = async () => {
    output = '';
    child = spawn(temporalCliPath(), args(), { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    await waitUntilServing(`127.0.0.1:${ports.port}`, child, () => output);
    if (ports.uiPort) await waitUntilListening(ports.uiPort, child, () => output); // the Web UI binds on its own
  };
  // The ports this module picked and may pick again; the frontend's only until it has served
  // (clients then know its address, and a restart keeps it).
  let frontendFixed = opts.port !== undefined;
  const launchRepicking = async () => {
    for (let attempt = 1; ; attempt++) {
      try {
        await launch();
        frontendFixed = true;
        return;
      } catch (err) {
        if (attempt >= LAUNCH_ATTEMPTS || !/address already in use/.test((err as Error).message)) throw err;
        if (!frontendFixed) ports.port = await pick();
        ports.httpPort = await pick();
        ports.metricsPort = await pick();
        if (ports.uiPort && opts.uiPort === undefined) ports.uiPort = await pick();
      }
    }
  };
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  await launchRepicking();
  process.on('exit', () => child.kill('SIGKILL'));
  return {
    address: `127.0.0.1:${ports.port}`,
    namespace: 'default',
    get uiPort() {
      return ports.uiPort;
    },
    stop,
    restart: async () => {
      await stop();
      await launchRepicking();
    },
  };
}

/**
 * Polls `probe` until it succeeds, the server exits (its output in the error) or 60 s pass.
 * `probe` throws (or returns false) while the server is not ready.
 */
async function waitForServer(what: string, child: ChildProcess, output: () => string, probe: () => Promise<boolean>, everyMs: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`temporal server exited (${child.exitCode}):\n${output()}`);
    const ready = await probe().catch((err: Error) => {
      if (Date.now() > deadline) throw new Error(`temporal server: ${what} after 60 s: ${err.message}\n${output()}`);
      return false;
    });
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`temporal server: ${what} after 60 s\n${output()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Until the frontend answers at `address` and knows the default namespace. */
function waitUntilServing(address: string, child: ChildProcess, output: () => string): Promise<void> {
  return waitForServer(`not serving at ${address}`, child, output, async () => {
    const connection = await Connection.connect({ address, connectTimeout: '2s' });
    try {
      await connection.workflowService.getSystemInfo({});
      await connection.workflowService.describeNamespace({ namespace: 'default' });
      return true;
    } finally {
      await connection.close();
    }
  }, 300);
}

/** Until something accepts connections on the port (the server's Web UI, which binds on its own). */
function waitUntilListening(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const accepts = () =>
    new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
  return waitForServer(`Web UI not listening on port ${port}`, child, output, accepts, 200);
}
