/**
 * Passwords stay on the worker: they are not in workflow input, history, the CLI's output or
 * the worker's log, whichever way the worker found them.
 */
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli, startHarness, tableChecksums, writeSpec, type Harness } from './support/harness';

const SOURCE_PW = 'src-Pa55-w0rd-7f3a';
const TARGET_PW = 'tgt-Pa55-w0rd-91c2';

describe('secrets', () => {
  let h: Harness;
  let passwordFile: string;
  let pgpassFile: string;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgferry-pw-'));
    passwordFile = join(dir, 'target.pw');
    writeFileSync(passwordFile, `${TARGET_PW}\n`, { mode: 0o600 });
    pgpassFile = join(dir, 'pgpass');
    h = await startHarness({
      name: 'secrets',
      temporalAddress: inject('temporalAddress'),
      sourcePassword: SOURCE_PW,
      targetPassword: TARGET_PW,
      workerEnv: { PGFERRY_SOURCE_PASSWORD: SOURCE_PW, PGPASSFILE: pgpassFile },
    });
    // libpq and node-postgres both read the pgpass file at connect time, so it can be written now.
    writeFileSync(pgpassFile, `127.0.0.1:${h.source.port}:*:postgres:${SOURCE_PW}\n127.0.0.1:${h.target.port}:*:postgres:${TARGET_PW}\n`, { mode: 0o600 });
    await h.source.createDatabase('app');
    await h.target.createDatabase('app');
    await h.source.query(`CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 1000) g;`, 'app');
  });

  afterAll(async () => {
    await h?.close();
  });

  it('migrates with passwords from passwordEnv and passwordFile and never records them', async () => {
    const spec = writeSpec({
      source: { host: '127.0.0.1', port: h.source.port, database: 'app', user: 'postgres', passwordEnv: 'PGFERRY_SOURCE_PASSWORD' },
      target: { host: '127.0.0.1', port: h.target.port, database: 'app', user: 'postgres', passwordFile },
    });
    const workflowId = `secrets-${Date.now()}`;
    const run = await runCli(['start', spec, '--id', workflowId, '--wait'], h.cliEnv);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(await tableChecksums(h.target, 'app')).toEqual(await tableChecksums(h.source, 'app'));

    const histories = [await h.client.workflow.getHandle(workflowId).fetchHistory()];
    for await (const child of h.client.workflow.list({ query: `WorkflowId STARTS_WITH '${workflowId}/'` })) {
      histories.push(await h.client.workflow.getHandle(child.workflowId).fetchHistory());
    }
    const text = histories.map(decodedHistory).join('\n');
    expect(text.includes('PGFERRY_SOURCE_PASSWORD'), 'the reference is in history').toBe(true);
    expect(text.includes(passwordFile), 'the password file path is in history').toBe(true);
    expect(text.includes(SOURCE_PW), 'source password in history').toBe(false);
    expect(text.includes(TARGET_PW), 'target password in history').toBe(false);
    expect(run.stdout + run.stderr).not.toContain(SOURCE_PW);
    expect(h.worker.output()).not.toContain(SOURCE_PW);
    expect(h.worker.output()).not.toContain(TARGET_PW);
  });

  it('finds passwords in a pgpass file when the spec names none', async () => {
    await h.target.query('DROP TABLE IF EXISTS t', 'app');
    const spec = writeSpec({ source: h.source.url('app'), target: h.target.url('app') });
    const run = await runCli(['start', spec, '--wait'], h.cliEnv);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(await tableChecksums(h.target, 'app')).toEqual(await tableChecksums(h.source, 'app'));
  });

  it('keeps the password out of the failure when authentication fails mid-migration', async () => {
    const spec = writeSpec({
      source: { host: '127.0.0.1', port: h.source.port, database: 'app', user: 'postgres', passwordEnv: 'PGFERRY_SOURCE_PASSWORD' },
      target: { host: '127.0.0.1', port: h.target.port, database: 'app', user: 'nobody', passwordFile },
    });
    const workflowId = `secrets-fail-${Date.now()}`;
    const run = await runCli(['start', spec, '--id', workflowId, '--wait'], h.cliEnv);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/password authentication failed for user "nobody"/);
    const history = decodedHistory(await h.client.workflow.getHandle(workflowId).fetchHistory());
    expect(history.includes('password authentication failed'), 'the failure is in history').toBe(true);
    expect(history.includes(TARGET_PW), 'target password in history').toBe(false);
    expect(history.includes(SOURCE_PW), 'source password in history').toBe(false);
  });
});

/** History as text, with every payload decoded, so a password inside one would be visible. */
function decodedHistory(history: unknown): string {
  return JSON.stringify(history, (key, value) => {
    if (key === 'data' && typeof value === 'string') return Buffer.from(value, 'base64').toString('utf8');
    if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
    return value;
  });
}
