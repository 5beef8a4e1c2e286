/**
 * A database connection dropped in the middle of a copy (here: pg_terminate_backend on the
 * source and on the target) is retried, and the target still ends exactly like the source.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MigrationReport } from '../common/plan';
import { runCli, startHarness, tableChecksums, waitFor, writeSpec, type Harness } from './support/harness';
import { progressQuery } from '../workflows/messages';

describe('connection loss during the copy', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ name: 'connloss', temporalAddress: inject('temporalAddress') });
    await h.source.createDatabase('app');
    await h.target.createDatabase('app');
    await h.source.query(
      `CREATE TABLE big (id bigint PRIMARY KEY, body text);
       INSERT INTO big SELECT g, repeat(md5(g::text), 6) FROM generate_series(1, 1200000) g;
       CREATE TABLE nokey (n int, v text);
       INSERT INTO nokey SELECT g % 10, 'v' FROM generate_series(1, 100000) g;`,
      'app',
    );
  });

  afterAll(async () => {
    await h?.close();
  });

  it('retries the copy on new connections and ends with exact data', async () => {
    const spec = writeSpec({ source: h.source.url('app'), target: h.target.url('app'), validation: 'checksum', precheck: { ignore: ['tables-without-key'] } });
    const workflowId = `connloss-${Date.now()}`;
    expect((await runCli(['start', spec, '--id', workflowId], h.cliEnv)).code).toBe(0);
    const handle = h.client.workflow.getHandle(workflowId);
    await waitFor('the copy of big to start', async () => (await handle.query(progressQuery)).tables.some((t) => t.name === 'big' && t.state === 'copying'), 60_000, 50);

    const terminate = `SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE application_name = 'pgferry copy'`;
    const [killedTarget] = await h.target.query<{ n: string }>(terminate);
    expect(Number(killedTarget.n)).toBeGreaterThan(0);

    // The retried attempt copies again from the start; cut it on the source side this time.
    await waitFor('the retried copy', async () => {
      const [s] = await h.source.query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'pgferry copy' AND state = 'active'`);
      return Number(s.n) > 0;
    }, 60_000, 50);
    await h.source.query(terminate);

    const report = (await handle.result()) as MigrationReport;
    expect(report.validation.mismatches).toEqual([]);
    expect(await tableChecksums(h.target, 'app')).toEqual(await tableChecksums(h.source, 'app'));
    // The copy really was retried: an activity in the copy child started more than once.
    const child = h.client.workflow.getHandle(`${workflowId}/copy-1`);
    const attempts = ((await child.fetchHistory()).events ?? []).map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0);
    expect(Math.max(...attempts)).toBeGreaterThanOrEqual(2);
  });
});
