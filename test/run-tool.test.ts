/**
 * PostgreSQL's client programs as child processes (activities/schema/run-tool.ts): their output
 * reaches a reader that starts after the program has exited. (Node drops a child's stdout that
 * nobody listened to when it exits; pre-data once restored an empty script that way.)
 */
import { describe, expect, it } from 'vitest';
import { startTool } from '../activities/schema/run-tool';
import type { ActivityDeps } from '../activities/deps';

const deps = { pgBinDir: '/usr/lib/postgresql/15/bin', env: process.env } as unknown as ActivityDeps;

describe('startTool', () => {
  it('keeps the output for a reader that comes after the program ended', async () => {
    const run = startTool(deps, 'pg_restore', ['--help'], {});
    await run.done;
    await new Promise((r) => setTimeout(r, 200));
    let text = '';
    for await (const chunk of run.stdout) text += String(chunk);
    expect(text).toContain('pg_restore restores a PostgreSQL database from an archive');
    expect(text).toContain('--section=SECTION');
  });

  it('fails with the program\'s own error', async () => {
    const run = startTool(deps, 'pg_restore', ['-l', '/nonexistent/dump'], {});
    await expect(run.done).rejects.toThrow(/pg_restore failed \(exit 1\): .*could not open input file/);
  });
});
