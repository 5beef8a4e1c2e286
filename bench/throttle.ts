/**
 * `npm run bench:throttle`: does a running migration keep to its throttle, and follow a change
 * made with `pgferry throttle` while it copies? A real migration of ~400 MB (4 tables, 2 copied
 * at a time) starts with `throttle.full.mbPerSecond: 5`; after a window it is changed to 10 MB/s
 * through the CLI, then a stricter rows-per-second limit is added, then both are lifted. The achieved rate of each
 * window is read on the target (pg_stat_progress_copy: the bytes and rows every running COPY
 * has received, summed over both copies), and written to bench/RESULTS-throttle.md.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import type { MigrationReport } from '../common/plan';
import { startPostgres } from '../launch/postgres';
import { startTemporalServer } from '../launch/temporal';
import { startWorkerProcess } from '../launch/worker';
import { repoRoot } from '../launch/repo-root';
import { measureCopyRate, sampleCopies } from '../test/support/copy-rate';
import { BENCH_SETTINGS } from './settings';

const exec = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MB = 1_048_576;
/** ~274 bytes of binary COPY data per row: 4 tables of ~100 MB. */
const ROWS_PER_TABLE = 420_000;
/** Time for every copy to see a change (it polls every second) and for buffers to settle. */
const SETTLE_MS = 2_500;

interface Window {
  limit: string;
  limitValue: number;
  unit: 'MB/s' | 'rows/s';
  achieved: number;
  coveredMs: number;
}

async function main(): Promise<void> {
  const root = repoRoot();
  console.log('starting clusters, Temporal and a worker...');
  const source = await startPostgres({ name: 'bench-throttle-src', settings: BENCH_SETTINGS });
  const target = await startPostgres({ name: 'bench-throttle-tgt', settings: BENCH_SETTINGS });
  const temporal = await startTemporalServer();
  const taskQueue = `bench-throttle-${Date.now()}`;
  const worker = await startWorkerProcess({ temporalAddress: temporal.address, taskQueue });
  const env = { ...process.env, TEMPORAL_ADDRESS: temporal.address, PGFERRY_TASK_QUEUE: taskQueue };
  const cli = (...args: string[]) => exec(process.execPath, [join(root, 'dist', 'client', 'cli.js'), ...args], { env });
  const windows: Window[] = [];
  let report: MigrationReport | undefined;
  let dataMb = 0;
  try {
    await source.createDatabase('bench');
    await target.createDatabase('bench');
    for (const t of ['t1', 't2', 't3', 't4']) {
      await source.query(`CREATE TABLE ${t} (id bigint PRIMARY KEY, body text); INSERT INTO ${t} SELECT g, repeat(md5('${t}' || g), 8) FROM generate_series(1, ${ROWS_PER_TABLE}) g;`, 'bench');
    }
    await source.query('VACUUM ANALYZE', 'bench');
    const [size] = await source.query<{ mb: string }>(`SELECT sum(pg_table_size(oid)) / 1048576 AS mb FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace`, 'bench');
    dataMb = Number(size.mb);

    const dir = mkdtempSync(join(tmpdir(), 'pgferry-bench-throttle-'));
    const spec = join(dir, 'spec.yaml');
    writeFileSync(spec, `source: ${source.url('bench')}\ntarget: ${target.url('bench')}\nparallelism:\n  tables: 2\nthrottle:\n  full:\n    mbPerSecond: 5\n`);
    const id = `bench-throttle-${Date.now()}`;
    await cli('start', spec, '--id', id);
    const deadline = Date.now() + 300_000;
    while ((await sampleCopies(target, 'bench')).copies.size < 2) {
      if (Date.now() > deadline) throw new Error('the copies did not start');
      await sleep(100);
    }

    const measure = async (limit: string, limitValue: number, unit: Window['unit'], ms: number) => {
      await sleep(SETTLE_MS);
      const r = await measureCopyRate(target, 'bench', ms);
      const achieved = unit === 'MB/s' ? r.bytesPerSecond / MB : r.rowsPerSecond;
      windows.push({ limit, limitValue, unit, achieved, coveredMs: r.coveredMs });
      console.log(`  ${limit}: ${achieved.toFixed(unit === 'MB/s' ? 2 : 0)} ${unit} over ${(r.coveredMs / 1000).toFixed(1)} s`);
    };
    await measure('spec: mbPerSecond 5', 5, 'MB/s', 25_000);
    await cli('throttle', id, '--mb-per-second', '10');
    await measure('pgferry throttle --mb-per-second 10', 10, 'MB/s', 12_000);
    // 25,000 rows/s is ~6.5 MB/s: under the 10 MB/s still set, so the rows limit is what holds.
    await cli('throttle', id, '--rows-per-second', '25000');
    await measure('pgferry throttle --rows-per-second 25000', 25_000, 'rows/s', 8_000);
    await cli('throttle', id, '--unlimited');

    const client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
    report = (await client.workflow.getHandle(id).result()) as MigrationReport;
    await client.connection.close();
  } finally {
    await worker.stop();
    await temporal.stop();
    await source.stop();
    await target.stop();
  }

  const rows = windows.map((w) => {
    const deviation = ((w.achieved - w.limitValue) / w.limitValue) * 100;
    const value = w.unit === 'MB/s' ? w.achieved.toFixed(2) : w.achieved.toFixed(0);
    return `| ${w.limit} | ${w.limitValue} ${w.unit} | ${value} ${w.unit} | ${deviation >= 0 ? '+' : ''}${deviation.toFixed(1)} % | ${(w.coveredMs / 1000).toFixed(1)} s |`;
  });
  const text = [
    '# Throttle benchmark',
    '',
    `Run ${new Date().toISOString()} with \`npm run bench:throttle\` on ${cpus().length} cores (two PostgreSQL 15 clusters, Temporal dev server and one worker on one host; settings of benchmarks.md).`,
    '',
    `One migration of 4 tables (${dataMb.toFixed(0)} MB of table data, ${ROWS_PER_TABLE} rows each, ~274 bytes of binary COPY data per row), \`parallelism.tables: 2\`, started with \`throttle.full.mbPerSecond: 5\`; the limit was then changed with the CLI while the copies ran. The limit is for the whole migration: each running copy gets half. The third window adds \`--rows-per-second 25000\` (about 6.5 MB/s, so it is the limit that holds) to the 10 MB/s.`,
    '',
    `Achieved rates are read on the target from \`pg_stat_progress_copy\` (bytes and rows received by every running COPY, summed), sampled every 250 ms, from ${SETTLE_MS / 1000} s after each change; sample pairs where a copy ended or started are left out (their bytes and time both). MB = MiB (1,048,576 bytes) of COPY data.`,
    '',
    '| window | limit | achieved | deviation | measured over |',
    '|---|---:|---:|---:|---:|',
    ...rows,
    '',
    report ? `The migration then completed unthrottled: ${report.totalRows} rows, validation ${report.validation.mismatches.length === 0 ? 'passed' : 'FAILED'} (${report.validation.mode}), ${(report.totalMs / 1000).toFixed(0)} s in all.` : 'The migration did not complete.',
    '',
  ].join('\n');
  const file = join(root, 'bench', 'RESULTS-throttle.md');
  writeFileSync(file, text);
  console.log(`\n${text}\nwritten to ${file}`);
  const off = windows.filter((w) => Math.abs(w.achieved - w.limitValue) / w.limitValue > 0.1);
  if (off.length || !report) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
