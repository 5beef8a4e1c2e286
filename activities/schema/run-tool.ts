/**
 * Runs PostgreSQL's client programs (pg_dump, pg_restore, psql) with the connection
 * in libpq environment variables: passwords never appear on a command line, where `ps` shows
 * them to every user of the machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import type { ActivityDeps } from '../deps';

export interface ToolRun {
  child: ChildProcess;
  /**
   * The tool's output, read from here (not child.stdout): it is attached at the start, so a
   * reader that comes after an await still gets everything. When a child exits while nothing
   * listens to its stdout, Node resumes the stream and what it held is gone (a pg_restore of a
   * small schema could end before the script runner began reading, and pre-data ran nothing).
   * Backpressure holds: the tool waits while this buffer is full.
   */
  stdout: Readable;
  /** Resolves on exit 0; rejects with the tool's last stderr lines otherwise. */
  done: Promise<void>;
}

/** The worker's environment without libpq variables, so one side never leaks into the other. */
function baseEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith('PG') || key === 'PGPASSFILE') clean[key] = value;
  }
  return clean;
}

export function startTool(
  deps: ActivityDeps,
  tool: 'pg_dump' | 'pg_restore' | 'psql',
  args: string[],
  libpqEnv: Record<string, string>,
  stdio: { stdin?: 'pipe' | 'ignore'; stdout?: 'pipe' | 'ignore' } = {},
): ToolRun {
  const child = spawn(join(deps.pgBinDir, tool), args, {
    env: { ...baseEnv(deps.env), ...libpqEnv },
    stdio: [stdio.stdin ?? 'ignore', stdio.stdout ?? 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    // Keep the tail only: the last lines name the failing statement.
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  const stdout = new PassThrough();
  if (child.stdout) child.stdout.pipe(stdout);
  else stdout.end();
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (err) => reject(new Error(`${tool} could not start: ${err.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${tool} failed (${signal ?? `exit ${code}`}): ${lastLines(stderr)}`));
    });
  });
  return { child, stdout, done };
}

function lastLines(text: string): string {
  const lines = text.trim().split('\n').filter((l) => l.trim());
  const errors = lines.filter((l) => /ERROR|FATAL|error:/.test(l));
  return (errors.length ? errors.slice(-3) : lines.slice(-3)).join(' | ') || 'no error output';
}

/** Kills the child when the activity is cancelled or a sibling tool failed. */
export function killQuietly(run: ToolRun | undefined): void {
  if (run && run.child.exitCode === null) run.child.kill('SIGTERM');
}
