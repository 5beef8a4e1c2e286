/**
 * Cutover, pause and resume from the Temporal Web UI, as an operator does them: on a live
 * incremental migration (streaming, the source still written to), headless Chromium opens the
 * migration's page that `pgferry start` links to and uses the page's own dialogs (More Actions →
 * Send an Update → pause / resume; More Actions → Send a Signal → cutoverRequest with
 * `{"lockSource": false}`), through scripts/web-ui-signal.mjs. Each step is checked by what it
 * did to the migration: paused, nothing applied while paused, applied once resumed, a refused
 * Update shown with its reason, and the signal cutting the migration over with the target exact.
 */
import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MigrationProgress, MigrationReport } from '../common/plan';
import { startTemporalServer, type TemporalServer } from '../launch/temporal';
import { REPO, runCli, startHarness, tableChecksums, waitFor, waitForWorkflow, writeSpec, type Harness } from './support/harness';

const chromium = spawnSync('sh', ['-c', 'command -v chromium || command -v chromium-browser']).stdout.toString().trim();

/** What scripts/web-ui-signal.mjs prints: what it chose and typed, and what the UI answered. */
interface DialogRun {
  kind: 'signal' | 'update';
  nameField: 'list' | 'text';
  options?: string[];
  /** The description the dialog shows under a name. */
  descriptions?: Record<string, string>;
  chosen: string;
  input?: string;
  sent: boolean;
  toast?: string;
  error?: string;
  /** The dialog's own API calls: what the page sent and the HTTP status it got. */
  requests: { url: string; sent?: string; status?: number; answer?: string }[];
}

/** Sends a Signal or an Update with the Web UI's dialog on `page`; exit 0 sent, 1 refused by the UI, 2 the page did not offer it. */
function throughWebUi(page: string, kind: 'signal' | 'update', name: string, input = ''): Promise<{ code: number; run?: DialogRun; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--experimental-websocket', join(REPO, 'scripts', 'web-ui-signal.mjs'), page, kind, name, input, '90000'],
      { env: { ...process.env, CHROMIUM: chromium }, timeout: 150_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 2) : 0;
        done({ code, run: stdout ? (JSON.parse(stdout) as DialogRun) : undefined, stderr });
      },
    );
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('cutover, pause and resume from the Web UI', () => {
  let server: TemporalServer;
  let h: Harness;
  let uiPort: number;

  beforeAll(async () => {
    server = await startTemporalServer({ ui: true });
    uiPort = server.uiPort!;
    h = await startHarness({ name: 'uisignal', temporalAddress: server.address });
    await h.source.createDatabase('shop');
    await h.target.createDatabase('shop');
    await h.source.query(`CREATE TABLE orders (id int PRIMARY KEY, note text); INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(1, 1000) g;`, 'shop');
  });

  afterAll(async () => {
    await h?.close();
    await server?.stop();
  });

  it.skipIf(!chromium)("pauses, resumes and cuts over a live migration with the page's own Send an Update / Send a Signal dialogs", async () => {
    const id = `uisignal-${Date.now()}`;
    const spec = writeSpec({ source: h.source.url('shop'), target: h.target.url('shop'), types: ['schema', 'full', 'incremental'] });
    const started = await runCli(['start', spec, '--id', id], h.cliEnv);
    expect(started.code, started.stderr).toBe(0);
    const handle = h.client.workflow.getHandle(id);
    const progress = async () => JSON.parse((await runCli(['status', id, '--json'], h.cliEnv)).stdout).progress as MigrationProgress;
    await waitForWorkflow(h.client, id, 'the change stream to run', async () => (await progress())?.stream?.state === 'streaming', 180_000, 300);
    const targetRows = async () => Number((await h.target.query<{ n: string }>('SELECT count(*) AS n FROM orders', 'shop'))[0].n);
    await waitFor('the copy on the target', async () => (await targetRows()) === 1000, 30_000, 200);

    // The page `pgferry start` links to (its id; the UI opens the current run).
    const page = `http://127.0.0.1:${uiPort}/namespaces/default/workflows/${encodeURIComponent(id)}`;
    const apiCall = (run: DialogRun) => {
      expect(run.requests, 'the dialog made one API call').toHaveLength(1);
      return run.requests[0];
    };

    // Pause: More Actions → Send an Update → "pause" from the list, no input → Submit.
    const pause = await throughWebUi(page, 'update', 'pause');
    expect(pause.code, `the Update dialog did not pause: ${pause.stderr}`).toBe(0);
    expect(pause.run).toMatchObject({ nameField: 'list', chosen: 'pause', sent: true, toast: 'Update successful' });
    expect(pause.run!.options).toEqual(expect.arrayContaining(['pause', 'resume', 'throttle', 'cutover']));
    expect(pause.run!.descriptions).toMatchObject({ pause: expect.stringContaining('no input'), cutover: expect.stringContaining('{"lockSource": false}') });
    expect(apiCall(pause.run!)).toMatchObject({ url: expect.stringContaining(`/workflows/${id}/update/pause`), status: 200 });
    await waitFor('the stream to pause', async () => (await progress()).stream?.state === 'paused', 30_000, 300);
    expect(await progress()).toMatchObject({ phase: 'streaming', paused: true });
    // One transaction per row; none reaches the target while paused.
    await h.source.query(`DO $$ BEGIN FOR i IN 1001..1200 LOOP INSERT INTO orders VALUES (i, md5(i::text)); COMMIT; END LOOP; END $$`, 'shop');
    await sleep(3_000);
    expect(await targetRows()).toBe(1000);

    // A refused Update: the dialog shows why (the workflow's validator) and stays open.
    const refused = await throughWebUi(page, 'update', 'throttle', '{"phases": ["copy"], "mbPerSecond": 5}');
    expect(refused.code, refused.stderr.slice(0, 3000)).toBe(1);
    expect(refused.run).toMatchObject({ chosen: 'throttle', sent: false, error: expect.stringContaining('name the phases to throttle: full, incremental') });
    expect(apiCall(refused.run!).status).toBe(200); // the UI got the refusal as the Update's outcome

    // Resume, the same way: the backlog is applied.
    const resume = await throughWebUi(page, 'update', 'resume');
    expect(resume.code, `the Update dialog did not resume: ${resume.stderr}`).toBe(0);
    expect(resume.run).toMatchObject({ nameField: 'list', chosen: 'resume', sent: true, toast: 'Update successful' });
    expect(apiCall(resume.run!)).toMatchObject({ url: expect.stringContaining(`/workflows/${id}/update/resume`), status: 200 });
    expect((await progress()).paused).toBe(false);
    await waitFor('the backlog to be applied once resumed', async () => (await targetRows()) === 1200, 30_000, 200);

    // The source keeps changing up to the cutover.
    await h.source.query(`UPDATE orders SET note = 'changed' WHERE id % 7 = 0; DELETE FROM orders WHERE id % 11 = 0; INSERT INTO orders SELECT g, 'late' FROM generate_series(1201, 1500) g;`, 'shop');
    expect((await handle.describe()).status.name).toBe('RUNNING');
    expect((await progress()).phase).toBe('streaming');

    // Cutover: More Actions → Send a Signal → "cutoverRequest" from the list, input {"lockSource": false} → Submit.
    const signal = await throughWebUi(page, 'signal', 'cutoverRequest', '{"lockSource": false}');
    expect(signal.code, `dialog did not send the signal: ${signal.stderr}`).toBe(0);
    expect(signal.run).toMatchObject({ nameField: 'list', chosen: 'cutoverRequest', sent: true, toast: 'Workflow signaled.' });
    expect(signal.run!.options).toContain('cutoverRequest');
    // The dialog says which name is for operators, with its input, and which are pgferry's own.
    expect(signal.run!.descriptions!.cutoverRequest).toContain('Input: {"lockSource": false}');
    expect(signal.run!.descriptions!.streamOutlook).toContain('never send it by hand');
    expect(JSON.parse(signal.run!.input!)).toEqual({ lockSource: false });
    const sent = apiCall(signal.run!);
    expect(sent).toMatchObject({ url: expect.stringContaining(`/workflows/${id}/signal/cutoverRequest`), status: 200 });
    const payload = (JSON.parse(sent.sent!) as { input: { payloads: { data: string }[] } }).input.payloads[0].data;
    expect(JSON.parse(Buffer.from(payload, 'base64').toString())).toEqual({ lockSource: false });

    // The migration cut over because of it: the signal is in its history, it completed, the target is exact.
    await waitForWorkflow(h.client, id, 'the migration to cut over and complete after the signal', async () => (await handle.describe()).status.name !== 'RUNNING', 120_000, 500);
    const report = (await handle.result()) as MigrationReport;
    const signals: { name?: string | null; input?: string }[] = [];
    for (const event of (await handle.fetchHistory()).events ?? []) {
      const a = event.workflowExecutionSignaledEventAttributes;
      if (a) signals.push({ name: a.signalName, input: a.input?.payloads?.[0]?.data ? Buffer.from(a.input.payloads[0].data).toString() : undefined });
    }
    expect(signals.filter((s) => s.name === 'cutoverRequest')).toEqual([{ name: 'cutoverRequest', input: '{"lockSource":false}' }]);
    expect(report.warnings.filter((w) => w.includes('cutoverRequest'))).toEqual([]); // taken, not ignored
    expect(report.cutover!.validation.tablesChecked).toBe(1);
    expect(report.cutover!.validation.mismatches ?? []).toEqual([]);
    expect(report.cutover!.changesApplied).toBeGreaterThanOrEqual(200 + 300);
    expect((await handle.describe()).status.name).toBe('COMPLETED');
    expect(await targetRows()).toBe(1500 - Math.floor(1200 / 11)); // deleted before the late inserts
    expect(await tableChecksums(h.target, 'shop')).toEqual(await tableChecksums(h.source, 'shop'));
  });
});
