/**
 * The Temporal Web UI as an operator's console, on a real dev server with the UI: pgferry's
 * search attributes filter the workflow list (`PgferryPhase = "streaming"`), the migration's
 * page says how the copy goes (rate, time left, percent per table) and, once it streams,
 * whether it is caught up and what to do next (`pgferry cutover <id>`), in the rendered page of
 * a headless Chromium as in the Temporal API; a completed page shows downtime, validation per
 * table and the warnings. A namespace without the search attributes still migrates, and
 * `pgferry start` says how to register them.
 */
import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MigrationProgress } from '../common/plan';
import { LAG_SECONDS_ATTRIBUTE, PERCENT_ATTRIBUTE, PHASE_ATTRIBUTE, SOURCE_ATTRIBUTE } from '../common/search-attributes';
import { startTemporalServer, type TemporalServer } from '../launch/temporal';
import { startWorkerProcess } from '../launch/worker';
import { REPO, runCli, startHarness, temporalClient, uniqueTaskQueue, waitFor, waitForPhase, waitForWorkflow, writeSpec, type Harness } from './support/harness';

const chromium = spawnSync('sh', ['-c', 'command -v chromium || command -v chromium-browser']).stdout.toString().trim();

/** The page's rendered text in headless Chromium once it shows every `wanted` text (scripts/read-web-page.mjs). */
function renderedPage(url: string, wanted: string[], timeoutMs = 60_000): Promise<{ found: boolean; text: string }> {
  return new Promise((done, fail) => {
    execFile(
      process.execPath,
      ['--experimental-websocket', join(REPO, 'scripts', 'read-web-page.mjs'), url, String(timeoutMs), ...wanted],
      { env: { ...process.env, CHROMIUM: chromium }, timeout: timeoutMs + 40_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (err as { code?: number }).code : 0;
        if (code === 0 || code === 1) done({ found: code === 0, text: stdout });
        else fail(new Error(`read-web-page failed (${code}): ${stderr}`));
      },
    );
  });
}

const details = async (client: Client, id: string) => (await client.workflow.getHandle(id).query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';
const listed = async (client: Client, query: string) => {
  const ids: string[] = [];
  for await (const wf of client.workflow.list({ query })) ids.push(wf.workflowId);
  return ids;
};

describe('the Web UI as a console', () => {
  let server: TemporalServer;
  let h: Harness;
  let uiPort: number;

  beforeAll(async () => {
    server = await startTemporalServer({ ui: true });
    uiPort = server.uiPort!;
    h = await startHarness({ name: 'console', temporalAddress: server.address });
    await h.source.createDatabase('shop');
    await h.target.createDatabase('shop');
    await h.source.query(
      `CREATE TABLE orders (id bigint PRIMARY KEY, note text);
       INSERT INTO orders SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 150000) g;
       CREATE TABLE customers (id int PRIMARY KEY, name text);
       INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 1000) g;`,
      'shop',
    );
    await h.source.query('VACUUM ANALYZE', 'shop'); // sizes for the estimates
  });

  afterAll(async () => {
    await h?.close();
    await server?.stop();
  });

  it('filters, explains and guides a migration from copy to cutover', async () => {
    const id = `console-${Date.now()}`;
    const spec = writeSpec({
      source: h.source.url('shop'),
      target: h.target.url('shop'),
      types: ['schema', 'full', 'incremental'],
      // An acknowledgement that matches nothing (DDL is captured here): a warning the report shows in full.
      precheck: { ignore: ['ddl-during-migration'] },
      throttle: { full: { mbPerSecond: 0.5 } }, // a copy slow enough to watch (about 40 s)
    });
    const started = await runCli(['start', spec, '--id', id], h.cliEnv);
    expect(started.code).toBe(0);
    expect(started.stderr).not.toMatch(/search attributes/); // this server has them

    // The copy: rates, time left and percent per table, in `status` and on the page.
    const status = async () => JSON.parse((await runCli(['status', id, '--json'], h.cliEnv)).stdout) as { progress?: MigrationProgress };
    await waitForWorkflow(h.client, id, 'copy rates', async () => ((await status()).progress?.rates?.bytesPerSecond ?? 0) > 0, 120_000, 1_000);
    const copying = (await status()).progress!;
    expect(copying.phase).toBe('data');
    expect(copying.rates!.avgBytesPerSecond).toBeGreaterThan(0);
    expect(copying.rates!.avgBytesPerSecond).toBeLessThan(1_048_576); // the 0.5 MB/s throttle
    expect(copying.rates!.etaSeconds).toBeGreaterThan(0);
    const text = (await runCli(['status', id], h.cliEnv)).stdout;
    expect(text).toMatch(/rate \d+\.\d MB\/s, \d+ rows\/s now · \d+\.\d MB\/s, \d+ rows\/s on average · about .* left/);
    expect(text).toMatch(/copying +public\.orders .*\(\d+% of ~/);
    expect(await details(h.client, id)).toMatch(/\*\*Rate:\*\* .* left/);
    await waitFor('the phase to be searchable', async () => (await listed(h.client, `PgferryPhase = "data"`)).includes(id), 30_000, 500);
    expect((await runCli(['throttle', id, '--phase', 'full', '--unlimited'], h.cliEnv)).code).toBe(0);

    // Streaming and caught up: the list filters it, the page says what to do next.
    await waitForPhase(h.client, id, 'streaming');
    const nextStep = `caught up: stop writes to the source and run \`pgferry cutover ${id}\``;
    await waitFor('the migration to hear the stream is caught up', async () => (await details(h.client, id)).includes(nextStep), 60_000, 500);
    await waitFor('the list to filter it as streaming', async () => (await listed(h.client, `PgferryPhase = "streaming"`)).includes(id), 30_000, 500);
    expect(await listed(h.client, `PgferryPhase = "streaming"`)).not.toContain(`${id}/stream`); // the migration, not its child
    expect(await listed(h.client, `PgferryPhase = "data"`)).not.toContain(id);
    expect(await listed(h.client, `PgferryPhase = "streaming" AND PgferryLagSeconds < 5`)).toContain(id);
    const source = `127.0.0.1:${h.source.port}/shop`;
    expect(await listed(h.client, `PgferrySource = "${source}"`)).toContain(id);
    const attributes = (await h.client.workflow.getHandle(id).describe()).typedSearchAttributes;
    expect(attributes.get(PHASE_ATTRIBUTE)).toBe('streaming');
    expect(attributes.get(SOURCE_ATTRIBUTE)).toBe(source);
    expect(attributes.get(PERCENT_ATTRIBUTE)).toBe(100);
    expect(attributes.get(LAG_SECONDS_ATTRIBUTE)).toBeLessThan(5);
    expect((await runCli(['status', id], h.cliEnv)).stdout).toContain(`next: ${nextStep}`);

    // The page's "User Metadata" tab: summary, details and current details.
    const page = `http://127.0.0.1:${uiPort}/namespaces/default/workflows/${encodeURIComponent(id)}/${(await h.client.workflow.getHandle(id).describe()).runId}/user-metadata`;
    if (chromium) {
      const { found, text: rendered } = await renderedPage(page, ['streaming', 'caught up', `pgferry cutover ${id}`]);
      expect(found, `the rendered page lacks the phase, the lag or the next step:\n${rendered.slice(0, 4000)}`).toBe(true);
      expect(rendered).toMatch(/caught up \(\d+\.\d s behind/);
      const list = await renderedPage(`http://127.0.0.1:${uiPort}/namespaces/default/workflows?query=${encodeURIComponent('PgferryPhase="streaming"')}`, [id]);
      expect(list.found, list.text.slice(0, 3000)).toBe(true);
    } else {
      console.log('no chromium on PATH: the rendered page is not checked (the API checks above stand for it)');
    }

    // Cutover; the completed page sums it up.
    const cut = await runCli(['cutover', id], h.cliEnv);
    expect(cut.code).toBe(0);
    const handle = h.client.workflow.getHandle(id);
    await handle.result();
    const done = await details(h.client, id);
    expect(done).toMatch(/\*\*Cutover:\*\* downtime \*\*\d+\.\d\d s\*\*/);
    expect(done).toMatch(/\| public\.orders \| 150000 \| .* \| equal \|/);
    expect(done).toMatch(/\*\*Warnings \(\d+\):\*\*\n- precheck\.ignore names no item of this run: ddl-during-migration/);
    await waitFor('the list to show it done', async () => (await listed(h.client, `PgferryPhase = "done"`)).includes(id), 30_000, 500);
    if (chromium) {
      const { found, text: rendered } = await renderedPage(page, ['downtime', 'public.orders', 'precheck.ignore names no item of this run']);
      expect(found, rendered.slice(0, 4000)).toBe(true);
    }
  });

  it('migrates on a namespace without the search attributes, and says how to register them', async () => {
    const bare = await startTemporalServer({ searchAttributes: false });
    const taskQueue = uniqueTaskQueue('console-bare');
    const worker = await startWorkerProcess({ temporalAddress: bare.address, taskQueue });
    const client = await temporalClient(bare.address);
    try {
      await h.target.createDatabase('shop_bare');
      const spec = writeSpec({ source: h.source.url('shop'), target: h.target.url('shop_bare') });
      const id = `console-bare-${Date.now()}`;
      const run = await runCli(['start', spec, '--id', id, '--wait'], { TEMPORAL_ADDRESS: bare.address, PGFERRY_TASK_QUEUE: taskQueue });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toContain(`note: the namespace lacks pgferry's search attributes`);
      expect(run.stderr).toContain('temporal operator search-attribute create --namespace default --name PgferryPhase --type Keyword');
      expect((await client.workflow.getHandle(id).describe()).status.name).toBe('COMPLETED');
    } finally {
      await client.connection.close();
      await worker.stop();
      await bare.stop();
    }
  });
});
