/**
 * The real Temporal dev server (`temporal server start-dev`) as a child process, for tests,
 * the quickstart and the benchmark. The binary comes from scripts/setup.sh.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
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

export async function startTemporalServer(opts: { dbFile?: string; uiPort?: number; port?: number; searchAttributes?: boolean } = {}): Promise<TemporalServer> {
  const port = opts.port ?? (await freePort());
  const httpPort = await freePort();
  const metricsPort = await freePort();
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--http-port', String(httpPort), '--metrics-port', String(metricsPort), '--log-level', 'error'];
  args.push('--dynamic-config-value', 'frontend.enableUpdateWorkflowExecution=true');
  // pgferry's own search attributes (common/search-attributes.ts), for the Web UI's list.
  if (opts.searchAttributes !== false) for (const key of PGFERRY_SEARCH_ATTRIBUTES) args.push('--search-attribute', `${key.name}=${cliTypeName(key.type)}`);
  if (opts.dbFile) args.push('--db-filename', opts.dbFile);
  if (opts.uiPort) args.push('--ui-port', String(opts.uiPort));
  else args.push('--headless');
  const address = `127.0.0.1:${port}`;

  let child: ChildProcess;
  let output = '';
  const launch = async () => {
    output = '';
    child = spawn(temporalCliPath(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    await waitUntilServing(address, child, () => output);
  };
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  await launch();
  process.on('exit', () => child.kill('SIGKILL'));
  return {
    address,
    namespace: 'default',
    uiPort: opts.uiPort,
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
  };
}

async function waitUntilServing(address: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`temporal server exited (${child.exitCode}):\n${output()}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: '2s' });
      try {
        await connection.workflowService.getSystemInfo({});
        await connection.workflowService.describeNamespace({ namespace: 'default' });
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`temporal server not serving at ${address} after 60 s: ${(err as Error).message}\n${output()}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}
