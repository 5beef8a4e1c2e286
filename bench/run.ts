/**
 * `npm run bench`: times pgferry against its peers in one run, on the same data, each into a
 * freshly emptied target database, checks every target against the source, and writes
 * bench/RESULTS.md.
 *
 *   --quick       a small dataset (smoke test of the benchmark itself)
 *   --runs N      runs per tool and database (median reported; default 1)
 *   --only NAMES  comma-separated tool names to run (default: all)
 *   --jobs N      pgferry's parallelism.tables (default: none in the spec, pgferry's default)
 *   --db NAMES    comma-separated databases to measure: bench, tiny, many (default: all three)
 *   --cdc         instead: the change-capture benchmark (cdc.ts; its options are there)
 */
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { startPostgres, type PgCluster } from '../launch/postgres';
import { startTemporalServer } from '../launch/temporal';
import { repoRoot } from '../launch/repo-root';
import { buildBigDatabase, buildTinyDatabase, FULL_SIZE, QUICK_SIZE, tableDataBytes } from './dataset';
import { runCdcBench } from './cdc';
import { BENCH_SETTINGS } from './settings';
import { ALL_TOOLS, benchSpec, dumpPipePsql, pgferry, type Tool } from './tools';
import type { PhaseTiming } from '../common/plan';
import { verifyTarget } from './verify';
import { arg, recreateDatabase } from './bench-helpers';

interface Result {
  db: string;
  tool: string;
  seconds?: number;
  mbPerSecond?: number;
  peakRssMiB?: number;
  verified?: boolean;
  note?: string;
  /** pgferry's phases: the median of each over the runs, in seconds. */
  phases?: Array<{ phase: string; seconds: number }>;
  /** Each run's seconds, in the order run (for the tools in rounds: round by round). */
  times?: number[];
}

/**
 * Peers not run on a database, and why: pgcopydb's client grew to 7.3 GiB on 2,000 tiny tables
 * (about 3.7 MB per table); 10,000 would need more memory than this machine has.
 */
const NOT_RUN: Record<string, Record<string, string>> = {
  many: { 'pgcopydb clone': 'not run: its client needs about 3.7 MB per table (7.3 GiB on 2,000 tiny tables), more than this machine has for 10,000' },
};

/**
 * On the many database, pg_dump (so both peers) locks every table and every sequence in one
 * transaction: 20,000 locks, more than a source with PostgreSQL's default lock settings holds
 * ("out of shared memory"). The peers get a source restarted with room for them; pgferry gets
 * the same restart with the defaults (its schema dump locks only the tables). Each run starts
 * right after a restart, whichever tool it is, so every tool meets the same cold server.
 */
const PEER_SOURCE_LOCKS = '256';
const DEFAULT_LOCKS = '64';

async function prepareSource(db: string, tool: Tool, source: PgCluster): Promise<void> {
  if (db !== 'many') return;
  await source.restart({ max_locks_per_transaction: tool.name.startsWith('pgferry') ? DEFAULT_LOCKS : PEER_SOURCE_LOCKS });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface Tally {
  times: number[];
  phases: PhaseTiming[][];
  peak: number;
  problems: string[];
  failure?: string;
}

/** One timed run of one tool into a fresh target database, then the check of the target. */
async function runOnce(tool: Tool, tally: Tally, source: PgCluster, target: PgCluster, db: string, temporalAddress: string, jobs: number | undefined, label = ''): Promise<void> {
  if (tally.failure) return;
  await prepareSource(db, tool, source);
  await recreateDatabase(target, db);
  await source.query('CHECKPOINT');
  const ctx = { source, target, db, temporalAddress, jobs };
  const prepared = await tool.prepare?.(ctx);
  const started = process.hrtime.bigint();
  try {
    const { peakRssBytes, phases } = await tool.run(ctx, prepared);
    tally.times.push(Number(process.hrtime.bigint() - started) / 1e9);
    if (phases) tally.phases.push(phases);
    tally.peak = Math.max(tally.peak, peakRssBytes);
  } catch (err) {
    tally.failure = `failed: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`;
    return;
  } finally {
    await prepared?.stop();
  }
  tally.problems = await verifyTarget(source, target, db);
  console.log(`  ${tool.name} on ${db}${label ? ` (${label})` : ''}: ${tally.times[tally.times.length - 1].toFixed(1)} s${tally.problems.length ? ` — MISMATCH: ${tally.problems.slice(0, 3).join('; ')}` : ' (verified)'}`);
}

/**
 * pgferry and `pg_dump | psql` (the goal's comparison) take turns, in rounds; the other peers
 * run after the rounds. A tool that deletes thousands of files (pgcopydb's work directory,
 * `pg_dump -Fd`'s dump directory: one file per table) leaves the machine slow for the next
 * minutes, since ext4 then scans past recently deleted inodes at every file creation. In an
 * earlier version's rounds, which rotated one cyclic order of all four tools, pgferry ran right
 * after pgcopydb in every round but the first: 23.9 and 18.4 s there against 18.4 s in the
 * first (big database); 12.5 and 12.7 s against 11.5 s on 2,000 tiny tables, its pre-data (all
 * file creation) 4.3 and 4.4 s against 3.8 s.
 * pgcopydb runs once per database (its figure places it, at 3-20x the others' time), at the very
 * end, after every database's rounds: in a run that had it last in each database, the next
 * database's first pgferry run came right after it (57.8 s against 51.7 and 54.2 on `many`);
 * the rest run `runs` times.
 */
const ONCE_AFTER_ROUNDS = new Set(['pgcopydb clone']);
/** The peer the issue's goal is stated against. */
const GOAL_PEER = dumpPipePsql.name;
const IN_ROUNDS = new Set([pgferry.name, GOAL_PEER]);

/** Why a tool does not run on a database (not installed, or NOT_RUN there); undefined: it runs. */
function notRunReason(tool: Tool, db: string): string | undefined {
  return tool.available() ?? NOT_RUN[db]?.[tool.name];
}

/**
 * Rounds of pgferry and `pg_dump | psql`, the first of each round alternating (pgferry first in
 * even rounds), then each other peer its runs in a row. Before the first round, one untimed `pg_dump | psql` warms
 * both clusters: the first migration into a fresh target cluster is slower, whichever tool
 * runs it (its shared buffers are touched for the first time), and the peers' figures in
 * benchmarks.md are warm-cache figures.
 */
async function measureRounds(tools: Tool[], source: PgCluster, target: PgCluster, db: string, temporalAddress: string, runs: number, jobs: number | undefined): Promise<Map<Tool, Tally>> {
  const newTally = (): Tally => ({ times: [], phases: [], peak: 0, problems: [] });
  const tallies = new Map(tools.map((t) => [t, newTally()]));
  await runOnce(dumpPipePsql, newTally(), source, target, db, temporalAddress, jobs, 'warm-up');
  const runsHere = (tool: Tool) => !notRunReason(tool, db);
  const once = (tool: Tool) => runOnce(tool, tallies.get(tool)!, source, target, db, temporalAddress, jobs);
  const inRounds = tools.filter((t) => IN_ROUNDS.has(t.name) && runsHere(t));
  for (let round = 0; round < runs; round += 1) {
    for (const tool of round % 2 === 0 ? inRounds : [...inRounds].reverse()) await once(tool);
  }
  for (const tool of tools.filter((t) => !IN_ROUNDS.has(t.name) && !ONCE_AFTER_ROUNDS.has(t.name) && runsHere(t))) {
    for (let run = 0; run < runs; run += 1) await once(tool);
  }
  return tallies;
}

/** The tools run once per database after every database's rounds (ONCE_AFTER_ROUNDS). */
async function measureLast(tools: Tool[], tallies: Map<Tool, Tally>, source: PgCluster, target: PgCluster, db: string, temporalAddress: string, jobs: number | undefined): Promise<void> {
  for (const tool of tools.filter((t) => ONCE_AFTER_ROUNDS.has(t.name) && !notRunReason(t, db))) {
    await runOnce(tool, tallies.get(tool)!, source, target, db, temporalAddress, jobs);
  }
}

/** The results of one database, from its tallies. */
function summarize(tools: Tool[], tallies: Map<Tool, Tally>, db: string, dataBytes: number): Result[] {
  return tools.map((tool) => {
    const reason = notRunReason(tool, db);
    if (reason) return { db, tool: tool.name, note: reason.startsWith('not run') ? reason : `skipped: ${reason}` };
    const t = tallies.get(tool)!;
    if (t.failure) return { db, tool: tool.name, note: t.failure };
    const seconds = median(t.times);
    return {
      db,
      tool: tool.name,
      seconds,
      mbPerSecond: dataBytes / 1048576 / seconds,
      peakRssMiB: t.peak / 1048576,
      verified: t.problems.length === 0,
      phases: medianPhases(t.phases),
      times: t.times,
      note: t.problems.length ? `target differs: ${t.problems.slice(0, 3).join('; ')}` : undefined,
    };
  });
}

/** Each phase's median over the runs, in the order the phases ran. */
function medianPhases(runs: PhaseTiming[][]): Result['phases'] {
  if (!runs.length) return undefined;
  const order = [...new Set(runs.flatMap((r) => r.map((p) => p.phase)))];
  return order.map((phase) => ({ phase, seconds: median(runs.map((r) => (r.find((p) => p.phase === phase)?.ms ?? 0) / 1000)) }));
}

/** pgferry's own breakdown of its time (from its report), under the table. */
function phaseLines(results: Result[], db: string): string[] {
  return results
    .filter((r) => r.db === db && r.phases)
    .map((r) => `${r.tool} by phase (median s): ${r.phases!.map((p) => `${p.phase} ${p.seconds.toFixed(1)}`).join(', ')}`);
}

/**
 * The goal's ratio round by round: the two tools run seconds apart in a round, so a round's
 * ratio shows how much of the medians' ratio is the host changing speed between rounds.
 */
function roundLines(results: Result[], db: string): string[] {
  const ours = results.find((r) => r.db === db && r.tool === pgferry.name)?.times;
  const theirs = results.find((r) => r.db === db && r.tool === GOAL_PEER)?.times;
  if (!ours?.length || ours.length !== theirs?.length) return [];
  const rounds = ours.map((t, i) => `${(t / theirs[i]).toFixed(2)} (${t.toFixed(1)} / ${theirs[i].toFixed(1)} s)`);
  return ['', `pgferry ÷ ${GOAL_PEER} by round: ${rounds.join(', ')}`];
}

function table(results: Result[], db: string): string {
  const rows = results.filter((r) => r.db === db);
  const peers = rows.filter((r) => r.tool !== 'pgferry' && r.seconds !== undefined);
  const fastestPeer = peers.length ? Math.min(...peers.map((r) => r.seconds!)) : undefined;
  const lines = ['| tool | seconds | table MB/s | × fastest peer | peak client RSS (MiB) | target verified |', '|---|---:|---:|---:|---:|---|'];
  for (const r of rows) {
    if (r.seconds === undefined) {
      lines.push(`| ${r.tool.replace(/\|/g, '\\|')} | – | – | – | – | ${r.note} |`);
      continue;
    }
    const ratio = fastestPeer ? (r.seconds / fastestPeer).toFixed(2) : '–';
    lines.push(`| ${r.tool.replace(/\|/g, '\\|')} | ${r.seconds.toFixed(1)} | ${r.mbPerSecond!.toFixed(0)} | ${ratio} | ${r.peakRssMiB!.toFixed(0)} | ${r.verified ? 'yes' : `NO: ${r.note}`} |`);
  }
  return lines.join('\n');
}

/** The spec pgferry ran with, on one line (URLs shortened). */
function specShown(jobs: number | undefined): string {
  const url = { url: (db: string) => `postgres://…/${db}` } as unknown as PgCluster;
  return benchSpec({ source: url, target: url, db: '<db>', jobs }).trim().split('\n').join('; ');
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const runs = Number(arg('--runs') ?? 1);
  const jobs = arg('--jobs') === undefined ? undefined : Number(arg('--jobs'));
  const only = arg('--only')?.split(',');
  const size = quick ? QUICK_SIZE : FULL_SIZE;
  const tools = ALL_TOOLS.filter((t) => !only || only.includes(t.name));
  const databases = arg('--db')?.split(',') ?? ['bench', 'tiny', 'many'];

  console.log('starting clusters and Temporal...');
  const source = await startPostgres({ name: 'bench-src', logical: true, settings: BENCH_SETTINGS });
  const target = await startPostgres({ name: 'bench-tgt', settings: BENCH_SETTINGS });
  const temporal = await startTemporalServer();
  const results: Result[] = [];
  const sizes: string[] = [];
  let lockSettings = '';
  try {
    const [locks] = await target.query<{ per: string; connections: string }>(`SELECT current_setting('max_locks_per_transaction') AS per, current_setting('max_connections') AS connections`);
    lockSettings = `max_locks_per_transaction ${locks.per}, max_connections ${locks.connections}`;
    let t0 = Date.now();
    if (databases.includes('bench')) {
      await buildBigDatabase(source, 'bench', size);
      const [big] = await source.query<{ db: string; data: string }>(`SELECT pg_size_pretty(pg_database_size('bench')) AS db, pg_size_pretty(sum(pg_table_size(c.oid))) AS data FROM pg_class c WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace`, 'bench');
      sizes.push(`bench: ${big.db} database, ${big.data} table data (built in ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    }
    t0 = Date.now();
    if (databases.includes('tiny')) {
      await buildTinyDatabase(source, 'tiny', size.tinyTables);
      sizes.push(`tiny: ${size.tinyTables} tables of 10 rows (built in ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    }
    t0 = Date.now();
    if (databases.includes('many')) {
      await buildTinyDatabase(source, 'many', size.manyTables);
      sizes.push(`many: ${size.manyTables} tables of 10 rows (built in ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    }
    console.log(sizes.join('\n'));

    const tallies = new Map<string, Map<Tool, Tally>>();
    for (const db of databases) tallies.set(db, await measureRounds(tools, source, target, db, temporal.address, runs, jobs));
    for (const db of databases) await measureLast(tools, tallies.get(db)!, source, target, db, temporal.address, jobs);
    for (const db of databases) results.push(...summarize(tools, tallies.get(db)!, db, await tableDataBytes(source, db)));
  } finally {
    await temporal.stop();
    await source.stop();
    await target.stop();
  }

  const [version] = await Promise.resolve([process.env.PG_VERSION ?? '15']);
  const report = [
    '# Benchmark results',
    '',
    `Run ${new Date().toISOString()} with \`npm run bench${process.argv.slice(2).length ? ' -- ' + process.argv.slice(2).join(' ') : ''}\` on ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, PostgreSQL ${version} (two clusters on one host over TCP 127.0.0.1, fsync and synchronous_commit on, shared_buffers 1GB). ${runs} run(s) of pgferry and of pg_dump | psql, taken in rounds (both once per round, the first alternating) after one untimed warm-up run of pg_dump | psql per database, median; then ${runs} run(s) of pg_dump -Fd + pg_restore in a row, and one of pgcopydb per database once every database's rounds are done (tools that delete thousands of files slow down the next run's file creation on this machine, so they do not run between the two compared). pgferry ran with ${jobs === undefined ? 'its default spec' : `parallelism.tables: ${jobs} added to its default spec`}, \`${specShown(jobs)}\` (everything else its defaults: parallelism.tables 4, validation count, indexBuild memory 1GB and workers idle; the servers keep maintenance_work_mem 256MB and 2 parallel maintenance workers, which the peers use, pgcopydb setting 1GB itself); its time runs from pgferry start --wait to its exit, with the worker already up (started before the clock, as a deployment keeps it running), and includes the precheck and the row-count validation; its RSS is the worker's peak (VmHWM), the peers' the summed RSS of their client processes.`,
    '',
    ...sizes.map((s) => `- ${s}`),
    '',
    '## Full migration of the big database (schema + data + indexes/constraints)',
    '',
    table(results, 'bench'),
    '',
    ...phaseLines(results, 'bench'),
    ...roundLines(results, 'bench'),
    '',
    `## ${size.tinyTables} tiny tables`,
    '',
    table(results, 'tiny'),
    '',
    ...phaseLines(results, 'tiny'),
    ...roundLines(results, 'tiny'),
    '',
    `## ${size.manyTables} tiny tables, servers with default lock settings`,
    '',
    `The target keeps PostgreSQL's lock settings (${lockSettings}), and so does the source for pgferry: one transaction cannot lock every table (each comes with a TOAST table, its index, a sequence and a key), so pgferry's pre-data commits on the target in batches that fit its lock table, and its schema dump locks the tables only. pg_dump (both peers) locks every table and sequence, ${(2 * size.manyTables).toLocaleString("en")} locks: with the defaults it fails with "out of shared memory", so the peers ran against the source restarted with max_locks_per_transaction ${PEER_SOURCE_LOCKS}. The source is restarted before every run on this database, whichever the tool.`,
    '',
    table(results, 'many'),
    '',
    ...phaseLines(results, 'many'),
    ...roundLines(results, 'many'),
    '',
  ].join('\n');
  // Only a full run replaces the committed results; a partial one (--only, --db) is for profiling.
  const partial = only !== undefined || databases.length < 3;
  const file = join(repoRoot(), 'bench', quick ? 'RESULTS-quick.md' : partial ? 'RESULTS-partial.md' : 'RESULTS.md');
  writeFileSync(file, report);
  console.log(`\n${report}\nwritten to ${file}`);
}

(process.argv.includes('--cdc') ? runCdcBench() : main()).catch((err) => {
  console.error(err);
  process.exit(1);
});
