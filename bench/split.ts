/**
 * `npm run bench:split`: what splitting a big table buys on this machine, to choose the default
 * of `copy.splitLargerThan`. One database: pgbench at --scale (default 100: pgbench_accounts
 * ~1.3 GB, 10 M rows, with its primary key) and its small tables. pgferry runs with the default
 * spec but for the threshold (off and several sizes), in alternating rounds, beside
 * pg_dump | psql as the reference; each target is checked against the source. Writes
 * bench/RESULTS-split.md (a partial run: RESULTS-split-partial.md).
 *
 *   --scale N   pgbench scale (default 100)
 *   --runs N    rounds (default 2)
 *   --sizes L   comma-separated thresholds (default off,256MB,512MB,1GB)
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { PG_BIN, startPostgres } from '../launch/postgres';
import { startTemporalServer } from '../launch/temporal';
import { repoRoot } from '../launch/repo-root';
import { BENCH_SETTINGS } from './settings';
import { dumpPipePsql, pgferryTool, type Tool } from './tools';
import { verifyTarget } from './verify';
import { arg, recreateDatabase } from './bench-helpers';
import { buildPgbenchDatabase } from './cdc-pgbench';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const scale = Number(arg('--scale') ?? 100);
  const runs = Number(arg('--runs') ?? 2);
  const sizes = (arg('--sizes') ?? 'off,256MB,512MB,1GB').split(',');
  const partial = arg('--scale') !== undefined || arg('--sizes') !== undefined;
  const db = 'split';
  const temporal = await startTemporalServer();
  const source = await startPostgres({ name: 'bench-split-src', settings: BENCH_SETTINGS });
  const target = await startPostgres({ name: 'bench-split-tgt', settings: BENCH_SETTINGS });
  try {
    console.log(`building pgbench scale ${scale}...`);
    await buildPgbenchDatabase(source, db, scale);
    const [size] = await source.query<{ bytes: string }>(`SELECT pg_table_size('pgbench_accounts') AS bytes`, db);
    const tools: Tool[] = [dumpPipePsql, ...sizes.map((s) => pgferryTool(`pgferry split ${s}`, `copy: { splitLargerThan: ${s} }\n`))];
    const times = new Map<string, number[]>(tools.map((t) => [t.name, []]));
    const ctx = { source, target, db, temporalAddress: temporal.address };
    await recreateDatabase(target, db);
    execFileSync('bash', ['-c', `${join(PG_BIN, 'pg_dump')} -h ${source.host} -p ${source.port} -U postgres ${db} | ${join(PG_BIN, 'psql')} -q -h ${target.host} -p ${target.port} -U postgres ${db} > /dev/null`]); // warm-up
    for (let round = 0; round < runs; round += 1) {
      const order = [...tools.slice(round % tools.length), ...tools.slice(0, round % tools.length)];
      for (const tool of order) {
        await recreateDatabase(target, db);
        await source.query('CHECKPOINT');
        const prepared = await tool.prepare?.(ctx);
        const started = process.hrtime.bigint();
        try {
          await tool.run(ctx, prepared);
        } finally {
          await prepared?.stop();
        }
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const problems = await verifyTarget(source, target, db);
        if (problems.length) throw new Error(`${tool.name}: target differs: ${problems.slice(0, 3).join('; ')}`);
        times.get(tool.name)!.push(seconds);
        console.log(`  ${tool.name}: ${seconds.toFixed(1)} s (verified)`);
      }
    }
    const reference = median(times.get(dumpPipePsql.name)!);
    const lines = [
      '# Splitting a big table: results',
      '',
      `Run ${new Date().toISOString()} with \`npm run bench:split${process.argv.slice(2).length ? ' -- ' + process.argv.slice(2).join(' ') : ''}\` on ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB: pgbench scale ${scale} (pgbench_accounts ${(Number(size.bytes) / 2 ** 30).toFixed(2)} GiB), two clusters on one host (bench/settings.ts), pgferry with the default spec (parallelism.tables 4) but for copy.splitLargerThan, ${runs} alternating round(s) after one untimed pg_dump | psql, median; every target checked against the source.`,
      '',
      '| tool | seconds (median) | runs | ratio to pg_dump \\| psql |',
      '|---|---:|---|---:|',
      ...tools.map((t) => {
        const xs = times.get(t.name)!;
        return `| ${t.name.replace('|', '\\|')} | ${median(xs).toFixed(1)} | ${xs.map((x) => x.toFixed(1)).join(', ')} | ${(median(xs) / reference).toFixed(2)}× |`;
      }),
      '',
    ];
    const file = join(repoRoot(), 'bench', partial ? 'RESULTS-split-partial.md' : 'RESULTS-split.md');
    writeFileSync(file, lines.join('\n'));
    console.log(lines.join('\n'));
  } finally {
    await source.stop();
    await target.stop();
    await temporal.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
