/**
 * The operator's console on a pgbench database (pgbench_history has no key): the worker's
 * Prometheus endpoint scraped over HTTP while a copy runs, `pgferry plan` with a split table
 * and a rename, and an incremental migration paused, resumed and cut over with the `temporal`
 * CLI alone (Updates and the cutoverRequest signal), its result read with `temporal workflow result`.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../launch/ports';
import { PG_BIN } from '../launch/postgres';
import type { MigrationReport } from '../common/plan';
import type { MigrationPlanPreview } from '../common/migration-plan';
import { progressQuery } from '../workflows/messages';
import { REPO, runCli, startHarness, tableChecksums, waitFor, waitForPhase, writeSpec, type Harness } from './support/harness';

const run = promisify(execFile);
const TEMPORAL = join(REPO, '.tools', 'bin', 'temporal');

describe('operator tools', () => {
  let h: Harness;
  let metricsUrl: string;
  const temporalAddress = inject('temporalAddress');

  /** `temporal <args>` against the test server: its stdout, or the failure with its stderr. */
  const temporalCli = async (args: string[]) => (await run(TEMPORAL, [...args, '--address', temporalAddress, '--namespace', 'default'], { timeout: 120_000 })).stdout;

  beforeAll(async () => {
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    h = await startHarness({ name: 'optools', temporalAddress, workerEnv: { PGFERRY_METRICS_ADDRESS: `127.0.0.1:${port}` } });
    await h.source.createDatabase('bench');
    // pgbench's own tables (scale 2: 200,000 accounts, about 26 MB); pgbench_history has no key.
    await run(join(PG_BIN, 'pgbench'), ['-i', '-s', '2', '-q', h.source.url('bench')], { timeout: 120_000 });
    await h.source.query('INSERT INTO pgbench_history SELECT 1, 1, g, g, now() FROM generate_series(1, 1000) g', 'bench');
  }, 240_000);

  afterAll(async () => {
    await h?.close();
  });

  /** The value of one series of the scrape, or undefined. */
  const sample = (text: string, name: string, labels: Record<string, string>) => {
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`)) continue;
      if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return undefined;
  };

  it("serves the SDK's metrics and pgferry's on the worker's port, the copy counters growing during a copy", async () => {
    await h.target.createDatabase('bench_metrics');
    const id = `console-metrics-${Date.now()}`;
    // Throttled so that the copy lasts several scrapes.
    const spec = writeSpec({ source: h.source.url('bench'), target: h.target.url('bench_metrics'), throttle: { full: { mbPerSecond: 4 } } });
    expect((await runCli(['start', spec, '--id', id], h.cliEnv)).code).toBe(0);
    const handle = h.client.workflow.getHandle(id);
    await waitForPhase(h.client, id, 'data');

    // A cutover signal to a migration without a change stream: refused, and said so.
    await temporalCli(['workflow', 'signal', '--workflow-id', id, '--name', 'cutoverRequest', '--input', '{"lockSource": false}']);

    const bytesSeen: number[] = [];
    let scrape = '';
    await waitFor(
      'pgferry_copy_bytes_total to grow between scrapes during the copy',
      async () => {
        scrape = await (await fetch(metricsUrl)).text();
        const bytes = sample(scrape, 'pgferry_copy_bytes_total', { migration: id });
        if (bytes !== undefined && (await handle.query(progressQuery)).phase === 'data') bytesSeen.push(bytes);
        return new Set(bytesSeen.filter((b) => b > 0)).size >= 3;
      },
      60_000,
      700,
    );
    expect(bytesSeen.filter((b) => b > 0)).toEqual([...bytesSeen.filter((b) => b > 0)].sort((a, b) => a - b)); // a counter: never down
    expect(sample(scrape, 'pgferry_copy_rows_total', { migration: id })).toBeGreaterThan(0);
    expect(sample(scrape, 'pgferry_phase', { migration: id, phase: 'data' })).toBe(1);
    // The SDK's own metrics, on the same endpoint.
    expect(scrape).toMatch(/^temporal_worker_task_slots_available\{/m);
    expect(scrape).toMatch(/^temporal_activity_execution_latency(_seconds)?_bucket\{/m);

    const report = (await handle.result()) as MigrationReport;
    expect(report.warnings).toContain('cutoverRequest signal ignored: this migration has no change stream');
    const after = await (await fetch(metricsUrl)).text();
    expect(sample(after, 'pgferry_phase', { migration: id, phase: 'done' })).toBe(1);
    expect(sample(after, 'pgferry_phase', { migration: id, phase: 'data' })).toBe(0);
    // Every row was counted once: pgbench's 200,000 accounts, 20 tellers, 2 branches and the history.
    expect(sample(after, 'pgferry_copy_rows_total', { migration: id })).toBe(200_000 + 20 + 2 + 1000);
    expect(await tableChecksums(h.target, 'bench_metrics')).toEqual(await tableChecksums(h.source, 'bench'));
  });

  it('plans a migration: objects under their target names, sizes and row estimates, the split table, a measured or configured estimate', async () => {
    const spec = writeSpec({
      source: h.source.url('bench'),
      target: h.target.url('bench_plan'), // does not exist yet: the plan still reads the source
      copy: { splitLargerThan: '8MB' },
      objects: { rename: { 'public.pgbench_branches': 'public.branches' } },
    });
    const planned = await runCli(['plan', spec, '--json'], h.cliEnv);
    expect(planned.stderr).toBe('');
    expect(planned.code).toBe(0);
    const plan = JSON.parse(planned.stdout) as MigrationPlanPreview;
    const table = (name: string) => plan.tables.find((t) => t.name === name)!;
    const accounts = table('pgbench_accounts');
    const [{ bytes }] = await h.source.query<{ bytes: string }>(`SELECT pg_table_size('pgbench_accounts')::text AS bytes`, 'bench');
    expect(accounts).toMatchObject({ bytes: Number(bytes), rowEstimate: 200_000, splitBy: 'key', splitColumn: 'aid', chunks: Math.ceil(Number(bytes) / (4 * 1024 * 1024)) });
    expect(plan.tables[0].name).toBe('pgbench_accounts'); // biggest first
    expect(table('pgbench_branches').target).toEqual({ schema: 'public', name: 'branches' });
    expect(table('pgbench_history').chunks).toBeUndefined();
    expect(plan.totals).toMatchObject({ tables: 4, splitTables: 1, chunks: accounts.chunks, copyUnits: accounts.chunks! + 3 });
    expect(plan.schemas).toEqual([expect.objectContaining({ source: 'public', target: 'public', whole: true, tables: 4, counts: expect.objectContaining({ indexes: 3, constraints: 3 }) })]);
    expect(plan.estimate).toMatchObject({ source: 'measured', lanes: 4, basis: expect.stringMatching(/^one COPY stream read .* MiB of "public"\."pgbench_accounts"/) });
    expect(plan.estimate!.seconds).toBeGreaterThan(0);

    const configured = await runCli(['plan', spec, '--mb-per-second', '2'], h.cliEnv);
    expect(configured.code).toBe(0);
    expect(configured.stdout).toMatch(/public\.pgbench_accounts\s+.*~200,000 rows\s+split: \d+ chunks by key aid/);
    expect(configured.stdout).toMatch(/public\.pgbench_branches → public\.branches/);
    expect(configured.stdout).toContain(`at 2 MiB/s (configured: --mb-per-second 2)`);
    const shown = Number(/Estimated copy time: ([\d.]+) s/.exec(configured.stdout)?.[1]);
    expect(Math.abs(shown - plan.totals.bytes / (2 * 1024 * 1024))).toBeLessThan(0.2);

    const bad = await runCli(['plan', spec, '--mb-per-second', 'fast'], h.cliEnv);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--mb-per-second: "fast" is not a positive number');
  });

  it('pauses, resumes and cuts over an incremental migration with the temporal CLI alone, and shows its result', async () => {
    await h.target.createDatabase('bench_cdc');
    const id = `console-cdc-${Date.now()}`;
    const spec = writeSpec({
      source: h.source.url('bench'),
      target: h.target.url('bench_cdc'),
      types: ['schema', 'full', 'incremental'],
      // pgbench_history has no key: its inserts stream, as pgbench only inserts into it.
      incremental: { tables: { 'public.pgbench_history': { operations: ['insert', 'truncate'] } } },
    });
    const started = await runCli(['start', spec, '--id', id], h.cliEnv);
    expect(started.stderr).toBe('');
    await waitForPhase(h.client, id, 'streaming');

    const paused = JSON.parse(await temporalCli(['workflow', 'update', 'execute', '--workflow-id', id, '--name', 'pause', '--output', 'json'])) as { result?: { paused: boolean } };
    expect(JSON.stringify(paused)).toContain('"paused":true');
    const resumed = await temporalCli(['workflow', 'update', 'execute', '--workflow-id', id, '--name', 'resume', '--output', 'json']);
    expect(resumed).toMatch(/"paused":\s*false/);

    await run(join(PG_BIN, 'pgbench'), ['-n', '-c', '2', '-t', '200', h.source.url('bench')], { timeout: 120_000 });
    await temporalCli(['workflow', 'signal', '--workflow-id', id, '--name', 'cutoverRequest', '--input', '{"lockSource": false}']);
    const output = await temporalCli(['workflow', 'result', '--workflow-id', id, '--output', 'json']);
    const result = JSON.parse(output) as { status: string; result: MigrationReport };
    expect(output).toContain('COMPLETED');
    expect(result.result.cutover!.validation.tablesChecked).toBe(4);
    expect(result.result.cutover!.validation.mismatches ?? []).toEqual([]); // the CLI prints an empty list as null
    expect(result.result.cutover!.changesApplied).toBeGreaterThanOrEqual(400); // 400 transactions, each inserts a history row
    expect(await tableChecksums(h.target, 'bench_cdc')).toEqual(await tableChecksums(h.source, 'bench'));
    // The change stream's own counter, on the worker's endpoint.
    const scrape = await (await fetch(metricsUrl)).text();
    expect(sample(scrape, 'pgferry_stream_changes_total', { migration: id })).toBe(result.result.cutover!.changesApplied);
    expect(sample(scrape, 'pgferry_stream_lag_bytes', { migration: id })).toBeGreaterThanOrEqual(0);
  });
});
