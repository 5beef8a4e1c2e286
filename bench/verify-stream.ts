/**
 * `npm run bench:verify`: online verification while streaming. A pgbench database migrated by
 * pgferry (`[schema, full, incremental]`), then, under the change-capture load of
 * benchmarks.md (`pgbench -c 4 -j 2 -N`), the stream's lag without and with a `pgferry verify`
 * round running, the round's throughput (rows/s) and how long it held the stream, against the
 * time the full copy of the same database took. Writes bench/RESULTS-verify.md.
 *
 *   --scale N      pgbench scale (default 50: the benchmark database's 5M accounts; 5 with --quick)
 *   --seconds N    length of each load (default 40; 15 with --quick)
 *   --quick        smoke test; writes RESULTS-verify-quick.md (git-ignored)
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { startPostgres } from '../launch/postgres';
import { startTemporalServer } from '../launch/temporal';
import { startWorkerProcess } from '../launch/worker';
import { repoRoot } from '../launch/repo-root';
import { replicationNames } from '../common/replication-names';
import type { MigrationProgress } from '../common/plan';
import type { VerificationRecord } from '../common/verification';
import { progressQuery } from '../workflows/messages';
import { BENCH_SETTINGS } from './settings';
import { arg } from './bench-helpers';
import { buildPgbenchDatabase, runLoad, type LoadResult } from './cdc-pgbench';
import { sampleLag, summarize, waitConfirmed, currentLsn, type LagSummary } from './cdc-lag';

const run = promisify(execFile);
const DB = 'verify';

interface Phase {
  load: LoadResult;
  lag: LagSummary;
  catchUpMs: number;
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const scale = Number(arg('--scale') ?? (quick ? 5 : 50));
  const seconds = Number(arg('--seconds') ?? (quick ? 15 : 40));
  const loadBefore = loadavg()[0];
  const source = await startPostgres({ name: 'bench-verify-src', logical: true, settings: BENCH_SETTINGS });
  const target = await startPostgres({ name: 'bench-verify-tgt', settings: BENCH_SETTINGS });
  const temporal = await startTemporalServer();
  const id = `bench-verify-${Date.now()}`;
  const taskQueue = `bench-${id}`;
  const worker = await startWorkerProcess({ temporalAddress: temporal.address, taskQueue });
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection });
  const cli = (args: string[]) =>
    run(process.execPath, [join(repoRoot(), 'dist', 'client', 'cli.js'), ...args], { env: { ...process.env, TEMPORAL_ADDRESS: temporal.address, PGFERRY_TASK_QUEUE: taskQueue }, maxBuffer: 64 * 1024 * 1024 });
  try {
    console.log(`building pgbench scale ${scale}...`);
    await buildPgbenchDatabase(source, DB, scale);
    await target.createDatabase(DB);
    const [{ bytes }] = await source.query<{ bytes: string }>(`SELECT pg_database_size(current_database())::text AS bytes`, DB);
    const dir = mkdtempSync(join(tmpdir(), 'pgferry-bench-verify-'));
    const spec = join(dir, 'spec.yaml');
    writeFileSync(spec, `source: ${source.url(DB)}\ntarget: ${target.url(DB)}\ntypes: [schema, full, incremental]\nparallelism: { tables: 2 }\nvalidation: count\nincremental:\n  tables:\n    public.pgbench_history: { operations: [insert, truncate] }\nprecheck: { ignore: [tables-without-key, ddl-during-migration] }\n`);
    const started = Date.now();
    await cli(['start', spec, '--id', id]);
    const handle = client.workflow.getHandle(id);
    let progress: MigrationProgress;
    for (;;) {
      progress = await handle.query(progressQuery);
      if (progress.phase === 'streaming') break;
      if (['failed', 'cancelled', 'done'].includes(progress.phase)) throw new Error(`migration ${progress.phase}: ${progress.warnings.join('; ')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const migrationMs = Date.now() - started;
    const dataMs = progress.phases?.find((p) => p.phase === 'data')?.ms ?? 0;
    console.log(`migrated to streaming in ${(migrationMs / 1000).toFixed(1)} s (data phase ${(dataMs / 1000).toFixed(1)} s)`);
    const names = replicationNames(id);
    const [slotRow] = await source.query<{ slot_name: string }>(`SELECT slot_name FROM pg_replication_slots WHERE left(slot_name, length($1)) = $1 AND NOT temporary ORDER BY slot_name DESC LIMIT 1`, DB, [names.slotPrefix]);
    const slot = slotRow.slot_name;
    await waitConfirmed(source, DB, slot, await currentLsn(source, DB), Date.now(), 600_000);

    const phase = async (during?: () => Promise<void>): Promise<Phase> => {
      await Promise.all([source.query('CHECKPOINT'), target.query('CHECKPOINT')]);
      const sampler = await sampleLag(source, DB, slot);
      const loading = runLoad(source, DB, seconds);
      if (during) await during();
      const load = await loading;
      const catchUpMs = await waitConfirmed(source, DB, slot, load.endLsn, load.endedAt, 600_000);
      const lag = summarize(await sampler.stop(), load.endedAt);
      return { load, lag, catchUpMs };
    };

    console.log('load without verification...');
    const plain = await phase();
    let round: VerificationRecord | undefined;
    let roundWallMs = 0;
    console.log('load with a verification round...');
    const verifying = await phase(async () => {
      await new Promise((r) => setTimeout(r, 3_000)); // the load is running
      const t0 = Date.now();
      const { stdout } = await cli(['verify', id, '--json']);
      roundWallMs = Date.now() - t0;
      round = JSON.parse(stdout) as VerificationRecord;
    });
    if (!round) throw new Error('no verification round');
    if (roundWallMs > seconds * 1000) console.log('note: the round outlasted the load');
    const leftovers = await source.query<{ slot_name: string }>(`SELECT slot_name FROM pg_replication_slots WHERE temporary`, DB);

    const rate = Math.round(round.rows / (round.ms / 1000));
    const lagLine = (p: Phase) =>
      `| ${p.load.tps.toFixed(0)} | ${(p.lag.peakBytes / 1048576).toFixed(2)} MB | ${p.lag.peakSeconds.toFixed(2)} s | ${p.lag.avgSeconds.toFixed(2)} s | ${(p.catchUpMs / 1000).toFixed(2)} s |`;
    const report = [
      '# Online verification while streaming',
      '',
      `\`npm run bench:verify${process.argv.slice(2).length ? ' -- ' + process.argv.slice(2).join(' ') : ''}\` on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, PostgreSQL 15, two clusters on one host (fsync and synchronous_commit on, shared_buffers 1GB); load average ${loadBefore.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after.`,
      '',
      `Database: pgbench scale ${scale} (${(Number(bytes) / 2 ** 30).toFixed(2)} GiB on disk). Load: \`pgbench -c 4 -j 2 -T ${seconds} -N\` on the source while pgferry streams.`,
      '',
      '| | seconds |',
      '|---|---:|',
      `| full migration to streaming (schema, copy, indexes, validation) | ${(migrationMs / 1000).toFixed(1)} |`,
      `| its data phase (the copy of the rows) | ${(dataMs / 1000).toFixed(1)} |`,
      `| verification round while streaming under load (\`pgferry verify\`, wall time of the CLI) | ${(roundWallMs / 1000).toFixed(1)} |`,
      `| its activity (hold, list, plan, hash every chunk on both sides) | ${(round.ms / 1000).toFixed(1)} |`,
      '',
      `Verification: ${round.tables} tables, ${round.rows} rows in ${round.chunks} chunks (100,000 rows each) at ${round.lsn}: **${rate} rows/s**, ${round.clean ? 'every table equal' : `${round.differingChunks} chunk(s) DIFFER`}. ` +
        `Stream held ${round.pauseMs} ms at the position, plus ${round.preHoldMs} ms before it while the temporary slot was made (${round.attempts} ${round.attempts === 1 ? 'try' : 'tries'}). ` +
        `Goal (issue 16): verification faster than a full copy — ${round.ms < dataMs ? 'met' : 'NOT met'} (${(round.ms / 1000).toFixed(1)} s against the data phase's ${(dataMs / 1000).toFixed(1)} s). Temporary slots left on the source: ${leftovers.length}.`,
      '',
      'Lag (from the source: unconfirmed WAL of the stream\'s slot, sampled every 100 ms):',
      '',
      '| load | TPS | peak lag (bytes) | peak lag (s) | average lag (s) | catch-up after the load |',
      '|---|---:|---:|---:|---:|---:|',
      `| without verification ${lagLine(plain)}`,
      `| with a verification round ${lagLine(verifying)}`,
      '',
    ].join('\n');
    const file = join(repoRoot(), 'bench', quick ? 'RESULTS-verify-quick.md' : 'RESULTS-verify.md');
    writeFileSync(file, report);
    console.log(`\n${report}\nwritten to ${file}`);
    await handle.terminate('benchmark done').catch(() => undefined);
  } finally {
    await connection.close().catch(() => undefined);
    await worker.stop().catch(() => undefined);
    await temporal.stop().catch(() => undefined);
    await source.stop().catch(() => undefined);
    await target.stop().catch(() => undefined);
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
