/**
 * 10,000 tables on servers with the default lock table (max_locks_per_transaction 64, 6,400
 * locks by PostgreSQL's formula): the migration completes (pre-data commits in batches that
 * fit) and every workflow history stays far below Temporal's limits (tables are grouped into
 * units; the copy child continues-as-new).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MigrationReport } from '../common/plan';
import { startHarness, writeSpec, runCli, type Harness } from './support/harness';

const TABLES = 10_000;
/** Temporal warns at 10,240 events per history; stay well below. */
const HISTORY_WARNING = 10_240;

describe('10,000 tables', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ name: 'many', temporalAddress: inject('temporalAddress') });
    await h.source.createDatabase('app');
    await h.target.createDatabase('app');
    await h.source.query(
      `DO $$
       BEGIN
         FOR i IN 1..${TABLES} LOOP
           EXECUTE format('CREATE TABLE t_%s (id serial PRIMARY KEY, v text)', i);
           EXECUTE format('INSERT INTO t_%s (v) VALUES (%L)', i, md5(i::text));
           IF i % 500 = 0 THEN COMMIT; END IF;
         END LOOP;
       END $$;`,
      'app',
    );
  });

  afterAll(async () => {
    await h?.close();
  });

  it('migrates them all with bounded workflow histories', async () => {
    const spec = writeSpec({ source: h.source.url('app'), target: h.target.url('app') });
    const workflowId = `many-${Date.now()}`;
    const run = await runCli(['start', spec, '--id', workflowId, '--wait', '--json'], h.cliEnv, 600_000);
    expect(run.stderr).toBe('');
    expect(run.code, run.stdout.slice(0, 2000)).toBe(0);
    const report = JSON.parse(run.stdout).report as MigrationReport;
    expect(report.tables).toHaveLength(TABLES);
    expect(report.totalRows).toBe(TABLES);
    expect(report.validation).toMatchObject({ tablesChecked: TABLES, mismatches: [] });

    const [target] = await h.target.query<{ n: string; pk: string }>(
      `SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = 'public') AS n,
              (SELECT count(*) FROM pg_constraint WHERE contype = 'p' AND connamespace = 'public'::regnamespace) AS pk`,
      'app',
    );
    expect(Number(target.n)).toBe(TABLES);
    expect(Number(target.pk)).toBe(TABLES);

    const lengths: Record<string, number> = {};
    for await (const wf of h.client.workflow.list({ query: `WorkflowId STARTS_WITH '${workflowId}'` })) {
      lengths[wf.workflowId] = wf.historyLength;
    }
    expect(Object.keys(lengths)).toContain(workflowId);
    expect(Object.keys(lengths).length).toBeGreaterThanOrEqual(2);
    for (const [id, length] of Object.entries(lengths)) expect(length, id).toBeLessThan(HISTORY_WARNING / 4);
  });
});
