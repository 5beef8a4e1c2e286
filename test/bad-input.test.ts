/**
 * Bad input gets a clear message naming what is at fault, and changes nothing on the target.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli, startHarness, userRelations, writeSpec, type Harness } from './support/harness';

describe('bad input', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      name: 'bad',
      temporalAddress: inject('temporalAddress'),
      sourcePassword: 'right-source-pw',
      workerEnv: { SOURCE_PW: 'wrong-password', GOOD_SOURCE_PW: 'right-source-pw' },
    });
    await h.source.createDatabase('app');
    await h.target.createDatabase('app');
    await h.source.query('CREATE TABLE customers (id int PRIMARY KEY, name text); INSERT INTO customers VALUES (1, $$a$$);', 'app');
  });

  afterAll(async () => {
    await h?.close();
  });

  const source = (env: string) => ({ host: '127.0.0.1', port: h.source.port, database: 'app', user: 'postgres', passwordEnv: env });

  it('names the source and the password problem when the password is wrong, and writes nothing', async () => {
    const spec = writeSpec({ source: source('SOURCE_PW'), target: h.target.url('app') });
    const run = await runCli(['start', spec, '--wait'], h.cliEnv);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('precheck failed');
    expect(run.stderr).toContain(`Cannot connect to the source postgres@127.0.0.1:${h.source.port}/app`);
    expect(run.stderr).toMatch(/password authentication failed for user "postgres"/);
    expect(run.stderr).toMatch(/Check the source user and the password/);
    expect(run.stderr).not.toContain('wrong-password');
    expect(await userRelations(h.target, 'app')).toEqual([]);
  });

  it('names the unreachable host and port', async () => {
    const spec = writeSpec({ source: source('GOOD_SOURCE_PW'), target: 'postgres://postgres@127.0.0.1:1/app' });
    const run = await runCli(['precheck', spec], h.cliEnv);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/FAIL\s+target-connect\s+Cannot connect to the target postgres@127.0.0.1:1\/app: .*ECONNREFUSED/);
    expect(run.stdout).toMatch(/Check the target host and port/);
    expect(run.stdout).toMatch(/PASS\s+source-connect/);
    const json = await runCli(['precheck', spec, '--json'], h.cliEnv);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout);
    expect(report.ok).toBe(false);
    expect(report.items).toContainEqual(expect.objectContaining({ id: 'target-connect', status: 'fail' }));
  });

  it('fails on a table that already exists in the target and leaves it as it was', async () => {
    await h.target.query('CREATE TABLE customers (id int, note text); INSERT INTO customers VALUES (7, $$mine$$);', 'app');
    try {
      const spec = writeSpec({ source: source('GOOD_SOURCE_PW'), target: h.target.url('app') });
      const run = await runCli(['start', spec, '--wait'], h.cliEnv);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/\[target-conflicts\] 1 table\(s\) already exist in the target: public\.customers\..*conflicts: ignore/);
      expect(await userRelations(h.target, 'app')).toEqual(['public.customers']);
      expect(await h.target.query('SELECT * FROM customers', 'app')).toEqual([{ id: 7, note: 'mine' }]);
    } finally {
      await h.target.query('DROP TABLE customers', 'app');
    }
  });

  it('rejects an invalid spec with one line per problem, exit code 2, and starts nothing', async () => {
    const before = await countWorkflows(h);
    const spec = writeSpec({ source: 'postgres://u:pw@h/db', target: { host: 'x' }, parallelism: { tables: 0 }, validation: 'maybe' });
    const run = await runCli(['start', spec, '--wait'], h.cliEnv);
    expect(run.code).toBe(2);
    const lines = run.stderr.trim().split('\n').slice(1);
    expect(lines).toHaveLength(4);
    expect(run.stderr).toMatch(/- source: a password in the URL/);
    expect(run.stderr).toMatch(/- target\.database: /);
    expect(run.stderr).toMatch(/- parallelism\.tables: /);
    expect(run.stderr).toMatch(/- validation: /);
    expect(await countWorkflows(h)).toBe(before);
  });
});

async function countWorkflows(h: Harness): Promise<number> {
  let n = 0;
  for await (const _ of h.client.workflow.list({ query: `TaskQueue = '${h.taskQueue}'` })) n += 1;
  return n;
}
