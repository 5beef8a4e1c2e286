/**
 * Cancelling a migration stops its work and releases everything it held on the source: no
 * pgferry session (and so no exported snapshot) is left behind.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli, startHarness, waitFor, writeSpec, type Harness } from './support/harness';
import { progressQuery } from '../workflows/messages';

describe('cancel', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ name: 'cancel', temporalAddress: inject('temporalAddress') });
    await h.source.createDatabase('app');
    await h.target.createDatabase('app');
    await h.source.query(
      `CREATE TABLE big (id bigint PRIMARY KEY, body text);
       INSERT INTO big SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 1500000) g;`,
      'app',
    );
  });

  afterAll(async () => {
    await h?.close();
  });

  it('stops mid-copy and leaves no session on the source', async () => {
    // Throttled so the copy surely outlasts the cancel's way to it (a heartbeat reply, up to 8 s) on a busy machine.
    const spec = writeSpec({ source: h.source.url('app'), target: h.target.url('app'), throttle: { full: { mbPerSecond: 20 } } });
    const workflowId = `cancel-${Date.now()}`;
    expect((await runCli(['start', spec, '--id', workflowId], h.cliEnv)).code).toBe(0);
    const handle = h.client.workflow.getHandle(workflowId);
    await waitFor('the copy to start', async () => (await handle.query(progressQuery)).tables.some((t) => t.state === 'copying'), 60_000, 50);

    // What the Web UI shows as the workflow's current details, kept current while it runs.
    const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(metadata.currentDetails).toContain('**Phase:** data');
    expect(metadata.currentDetails).toMatch(/\| public\.big \| copying \|/);

    const sessions = () => h.source.query<{ application_name: string }>(`SELECT application_name FROM pg_stat_activity WHERE application_name LIKE 'pgferry%'`);
    expect((await sessions()).length).toBeGreaterThan(0);

    const cancel = await runCli(['cancel', workflowId], h.cliEnv);
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toContain(`${workflowId}: cancelled`);
    await waitFor('source sessions to close', async () => (await sessions()).length === 0, 30_000);
    const [rows] = await h.target.query<{ n: string }>('SELECT count(*) AS n FROM big', 'app');
    // The copy's transaction rolled back: no half-copied table.
    expect(Number(rows.n)).toBe(0);
  });
});
