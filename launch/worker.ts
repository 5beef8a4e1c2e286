/** A pgferry worker as a real child process (`node dist/worker/main.js`), for the quickstart, the benchmark and tests (which can kill it). */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './repo-root';
import { WORKER_ENV, WORKER_NODE_FLAGS } from '../worker/memory';

const REPO = repoRoot();

export interface WorkerProcess {
  pid: number;
  output(): string;
  /** Sends a signal (default SIGKILL) and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM, then SIGKILL after 10 s. */
  stop(): Promise<void>;
}

/**
 * temporalAddress: TEMPORAL_ADDRESS for the worker; leave it out to have the worker find its
 * server some other way (a config profile in `env`). An undefined value in `env` removes a variable.
 */
export async function startWorkerProcess(opts: { temporalAddress?: string; taskQueue: string; env?: Record<string, string | undefined> }): Promise<WorkerProcess> {
  // PGFERRY_WORKER_NODE_ARGS: extra node flags for the worker, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it.
  const nodeArgs = (process.env.PGFERRY_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const address = opts.temporalAddress === undefined ? {} : { TEMPORAL_ADDRESS: opts.temporalAddress };
  // The memory settings a deployment is told to use (worker/memory.ts); the caller's env may override them.
  const child = spawn(process.execPath, [...WORKER_NODE_FLAGS, ...nodeArgs, join(REPO, 'dist', 'worker', 'main.js')], {
    env: { ...WORKER_ENV, ...process.env, ...opts.env, ...address, PGFERRY_TASK_QUEUE: opts.taskQueue },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Killed with this process, even while it starts; the handler goes once the child is gone.
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  let output = '';
  const exited = new Promise<void>((r) =>
    child.once('exit', () => {
      process.off('exit', killOnExit);
      r();
    }),
  );
  const ready = new Promise<void>((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker not ready after 60 s:\n${output}`)), 60_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      if (output.includes('pgferry worker ready')) {
        clearTimeout(timer);
        resolveReady();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited (${code}) before it was ready:\n${output}`));
    });
  });
  await ready;
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    pid: child.pid!,
    output: () => output,
    kill,
    async stop() {
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await kill('SIGTERM');
      clearTimeout(timer);
    },
  };
}
