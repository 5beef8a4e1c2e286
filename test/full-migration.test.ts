/**
 * A full migration of a deliberately awkward database, end to end: real clusters, the real
 * Temporal dev server, a worker process and the CLI.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { defaultPayloadConverter } from '@temporalio/common';
import { activityResults } from './support/activity-results';
import type { MigrationReport } from '../common/plan';
import { buildProbeSql } from './support/build-probe';
import { REPO, runCli, startHarness, tableChecksums, waitFor, writeSpec, type Harness } from './support/harness';

const PG_BIN = '/usr/lib/postgresql/15/bin';

/** pg_dump --schema-only, minus what must differ between two databases. */
function schemaDump(h: Harness, side: 'source' | 'target'): string {
  const cluster = h[side];
  const text = execFileSync(join(PG_BIN, 'pg_dump'), ['--schema-only', '-h', cluster.host, '-p', String(cluster.port), '-U', 'postgres', 'app'], {
    env: { ...process.env, PGPASSWORD: cluster.password ?? '' },
    encoding: 'utf8',
  });
  // pg_dump 15.14+ writes a random \restrict key per dump.
  return text.replace(/^\\(un)?restrict .*$/gm, '');
}

describe('full migration', () => {
  let h: Harness;
  let report: MigrationReport;
  let workflowId: string;

  beforeAll(async () => {
    h = await startHarness({ name: 'full', temporalAddress: inject('temporalAddress') });
    await h.source.createDatabase('app');
    await h.target.createDatabase('app');
    await h.source.psqlFile(join(REPO, 'test', 'fixtures', 'e2e-source.sql'), 'app');
    // The source logs what the migration asks of it (which queries carried which COPYs).
    await h.source.query(`ALTER DATABASE app SET log_statement = 'all'`, 'app');
    // An index whose expression fails unless it is built with the spec's indexBuild settings:
    // the copy builds it on the target, so the migration passes only if its session has them.
    await h.source.query(
      `${buildProbeSql('inventory.build_probe', { maintenance_work_mem: '7MB', max_parallel_maintenance_workers: '1' })}
       CREATE INDEX products_build_probe_idx ON inventory.products (inventory.build_probe(id));`,
      'app',
    );
    const spec = writeSpec({
      source: h.source.url('app'),
      target: h.target.url('app'),
      parallelism: { tables: 3 },
      indexBuild: { memory: '7MB', workers: 1 },
      validation: 'checksum',
      precheck: { ignore: ['tables-without-key'] }, // audit.events
    });
    workflowId = `full-${Date.now()}`;
    const run = await runCli(['start', spec, '--id', workflowId, '--wait', '--json'], h.cliEnv);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    report = JSON.parse(run.stdout).report;
  });

  afterAll(async () => {
    await h?.close();
  });

  it('copies every table exactly (checksums equal the source)', async () => {
    const source = await tableChecksums(h.source, 'app');
    const target = await tableChecksums(h.target, 'app');
    expect(Object.keys(source)).toHaveLength(8); // 5 tables, 4 of them leaf partitions of one
    expect(target).toEqual(source);
  });

  it('restores the schema dump taken while the precheck ran (pg_dump ran once)', async () => {
    const results = await activityResults(h.client.workflow.getHandle(workflowId));
    expect(results.get('dumpSchemaEarly')).toMatchObject({ kept: true, bytes: expect.any(Number) });
    expect(results.get('applyPreData')).toMatchObject({ alreadyDone: false, reusedEarlyDump: true });
  });

  it("builds the copied tables' indexes with the spec's indexBuild settings", async () => {
    const probe = `SELECT indexrelid::regclass::text AS index FROM pg_index WHERE indexrelid = 'inventory.products_build_probe_idx'::regclass AND indisvalid`;
    expect(await h.target.query(probe, 'app')).toEqual([{ index: 'inventory.products_build_probe_idx' }]);
  });

  it('recreates the schema: pg_dump --schema-only of target equals the source', () => {
    expect(schemaDump(h, 'target')).toEqual(schemaDump(h, 'source'));
  });

  it('sets sequences to the source values, refreshes materialized views and analyzes every table', async () => {
    const q = `SELECT format('%I.%I', schemaname, sequencename) AS s, last_value FROM pg_sequences ORDER BY 1`;
    expect(await h.target.query(q, 'app')).toEqual(await h.source.query(q, 'app'));
    const mv = `SELECT format('%I.%I', schemaname, matviewname) AS m, ispopulated FROM pg_matviews ORDER BY 1`;
    const matviews = await h.target.query<{ m: string; ispopulated: boolean }>(mv, 'app');
    expect(matviews.length).toBeGreaterThan(0);
    expect(matviews.every((m) => m.ispopulated)).toBe(true);
    // Every table has planner statistics (reltuples is -1 until the first ANALYZE).
    const unanalyzed = await h.target.query(
      `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%' AND c.reltuples < 0`,
      'app',
    );
    expect(unanalyzed).toEqual([]);
    // ...and its own ANALYZE: a key build alone also sets reltuples.
    const notAnalyzed = await h.target.query(
      `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
          AND pg_catalog.pg_stat_get_last_analyze_time(c.oid) IS NULL`,
      'app',
    );
    expect(notAnalyzed).toEqual([]);
  });

  it('reads small tables several per COPY query, every table exactly once', () => {
    const log = readFileSync(join(dirname(h.source.dataDir), 'server.log'), 'utf8');
    // One entry per log line prefix (it starts with the time); a query's statements stay in its entry.
    const copiesPerQuery = log
      .split(/\n(?=\d{4}-\d\d-\d\d )/)
      .filter((entry) => entry.includes('statement: COPY') && entry.includes('TO STDOUT'))
      .map((entry) => entry.match(/TO STDOUT/g)!.length);
    expect(Math.max(...copiesPerQuery)).toBeGreaterThan(1);
    expect(copiesPerQuery.reduce((a, b) => a + b, 0)).toBe(report.tables.length);
  });

  it('reports each table with rows, bytes, duration and MB/s, phases and checksum validation', async () => {
    const sourceRows = await h.source.query<{ n: string }>(
      `SELECT sum(n_live_tup) AS n FROM pg_stat_user_tables`,
      'app',
    );
    expect(report.tables).toHaveLength(8);
    expect(report.totalRows).toBeGreaterThan(0);
    expect(report.totalRows).toBe(report.tables.reduce((s, t) => s + t.rows, 0));
    expect(Number(sourceRows[0].n)).toBeGreaterThan(0);
    for (const t of report.tables) expect(t).toMatchObject({ rows: expect.any(Number), bytes: expect.any(Number), ms: expect.any(Number), mbPerSecond: expect.any(Number) });
    for (const t of report.tables) expect(t).not.toHaveProperty('sourceChecksum'); // the workflow's own, for validation
    expect(report.phases.map((p) => p.phase)).toEqual(['precheck', 'snapshot', 'pre-data', 'data', 'post-data', 'validation']);
    expect(report.validation).toMatchObject({ mode: 'checksum', mismatches: [] });
    expect(report.validation.tablesChecked).toBe(report.tables.length);
    expect(report.warnings.some((w) => w.startsWith('tables-without-key'))).toBe(true);
  });

  it('leaves no pgferry bookkeeping behind on the target and no session on the source', async () => {
    expect(await h.target.query(`SELECT 1 FROM pg_namespace WHERE nspname = '_pgferry'`, 'app')).toEqual([]);
    // A closed connection's backend may take a moment to exit; a leak would stay.
    const sessions = () => h.source.query<{ application_name: string }>(`SELECT application_name FROM pg_stat_activity WHERE application_name LIKE 'pgferry%'`);
    await waitFor('source sessions to end', async () => (await sessions()).length === 0, 5_000).catch(async () => {
      expect(await sessions()).toEqual([]);
    });
  });

  it('shows up in the Temporal UI with a summary, activity summaries and a progress query', async () => {
    const handle = h.client.workflow.getHandle(workflowId);
    const description = await handle.describe();
    expect(await description.staticSummary()).toContain(`→ postgres@127.0.0.1:${h.target.port}/app (schema, full)`);
    const history = JSON.stringify(await handle.fetchHistory());
    expect(history).toContain('copySequences');
    const children = [];
    for await (const wf of h.client.workflow.list({ query: `WorkflowId STARTS_WITH '${workflowId}/copy-'` })) children.push(wf);
    expect(children).toHaveLength(1);
    const childHistory = await h.client.workflow.getHandle(children[0].workflowId).fetchHistory();
    const summaries = (childHistory.events ?? [])
      .filter((e) => e.activityTaskScheduledEventAttributes && e.userMetadata?.summary)
      .map((e) => defaultPayloadConverter.fromPayload<string>(e.userMetadata!.summary!));
    expect(summaries.length).toBeGreaterThan(0);
    expect(summaries.every((s) => s.startsWith('copy '))).toBe(true);
    expect(summaries.join('\n')).toMatch(/copy \d+ tables|copy [\w"]/);
    const status = await runCli(['status', workflowId, '--json'], h.cliEnv);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ state: 'completed' });
    const list = await runCli(['list'], h.cliEnv);
    expect(list.stdout).toMatch(new RegExp(`^${workflowId}\tCOMPLETED\t`, 'm'));
  });
});
