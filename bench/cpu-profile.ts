/**
 * `node dist/bench/cpu-profile.js [--db bench|tiny|pgbench] [--runs N] [--only NAMES]`: where the CPU
 * goes during a migration. On a 2-core machine the benchmark is CPU-bound, so wall time follows
 * the CPU that every process spends: this runs the tools of the benchmark on the same data and
 * prints, per run, wall time and CPU seconds of the source cluster, the target cluster, the
 * pgferry worker (with its pg_dump/pg_restore children), the Temporal server and the rest.
 *
 * A cluster's CPU is its postmaster's own and reaped children's time plus its live children's,
 * so backends that ended during the run are counted too.
 *
 * `--statements`: both clusters also log every statement's CPU (log_statement_stats), and each run
 * prints the source's and the target's CPU by kind of statement (COPY, CREATE INDEX, ANALYZE, ...), the leader's
 * only (a parallel index build's workers are not in it).
 *
 * `--timeline`: each run also prints the target's statements of 100 ms or more with their start
 * and end, the machine's busy cores second by second, and when each activity of pgferry's
 * workflows was scheduled, started and closed (bench/run-timeline.ts).
 *
 * `--db pgbench [--scale N]`: pgbench alone (default scale 100: one 1.25 GiB table and its key).
 * `--spec YAML`: lines added to pgferry's default spec (such as `copy: { splitLargerThan: off }`).
 * `--spec-b YAML`: also runs `pgferry B` with these lines instead. Rounds alternate the tools' order.
 *
 * Every run also prints the WAL the target wrote, its checkpoints and full-page images (read
 * outside the timed span; pg_stat_wal counts what backends have reported by then).
 *
 * `--titles`: each run also prints the source's and the target's CPU by kind of process, from
 * process titles sampled every 100 ms (bench/process-titles.ts): backends by the command they
 * were running, parallel workers, checkpointer, WAL writer.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { startPostgres, type PgCluster } from '../launch/postgres';
import { startTemporalServer } from '../launch/temporal';
import { buildBigDatabase, buildTinyDatabase, FULL_SIZE } from './dataset';
import { buildPgbenchDatabase } from './cdc-pgbench';
import { BENCH_SETTINGS } from './settings';
import { ALL_TOOLS, dumpPipePsql, pgferry, pgferryTool, type Prepared } from './tools';
import { arg, recreateDatabase } from './bench-helpers';
import { ProcessTitleSampler } from './process-titles';
import { allProcesses, machineBusySeconds, pidByCommandLine, postmasterPid, TICKS, type ProcTimes } from './proc-times';
import { BusyCores, printTimeline, printWorkflowTimeline, timedStatements, TIMELINE_SETTINGS } from './run-timeline';

/** A process tree's totals: its own, its reaped children's, and its live descendants'. */
function treeTotals(root: number, all: Map<number, ProcTimes>): { seconds: number; systemSeconds: number; faults: number } {
  const totals = { seconds: 0, systemSeconds: 0, faults: 0 };
  const add = (t: ProcTimes) => {
    totals.seconds += (t.self + t.children) / TICKS;
    totals.systemSeconds += t.system / TICKS;
    totals.faults += t.faults;
  };
  const rootTimes = all.get(root);
  if (!rootTimes) return totals;
  add(rootTimes);
  const stack = [root];
  while (stack.length) {
    const parent = stack.pop()!;
    for (const [pid, t] of all) {
      if (t.ppid !== parent) continue;
      add(t);
      stack.push(pid);
    }
  }
  return totals;
}

function temporalPid(address: string): number {
  const port = address.split(':')[1];
  const pid = pidByCommandLine(['start-dev', port]);
  if (pid === undefined) throw new Error(`no temporal server process on port ${port}`);
  return pid;
}

/** Kinds of statement, by their first words: each capture is a word of the kind, names and literals left out. */
const STATEMENT_KINDS = [
  /^(COPY) .* (FROM|TO) /i,
  /^(CREATE (?:UNIQUE )?INDEX)/i,
  /^(ALTER TABLE) .*? (ADD CONSTRAINT) \S+ (\w+(?: KEY)?)/i,
  /^(SELECT count)/i,
  /^(\w+(?: [A-Z]+(?= ))?)/, // a command and its upper-case keyword (CREATE TABLE), not a lower-case name
];

/** The kind of a statement, for grouping. */
function statementKind(sql: string): string {
  const s = sql.trim().replace(/\s+/g, ' ');
  for (const kind of STATEMENT_KINDS) {
    const m = kind.exec(s);
    if (m) return m.slice(1).join(' ').toUpperCase();
  }
  return s.slice(0, 30);
}

/** Sums the target's logged statement CPU (log_statement_stats) by kind of statement. */
function printStatementCpu(cluster: string, log: string): void {
  const byKind = new Map<string, { cpu: number; calls: number }>();
  const each: [number, string][] = [];
  // "! 0.123 s user, 0.010 s system, 0.200 s elapsed" ... then "STATEMENT:  <sql>"
  const re = /!\s+([\d.]+) s user, ([\d.]+) s system, [\d.]+ s elapsed[\s\S]*?STATEMENT:\s+([^\n]*)/g;
  for (const m of log.matchAll(re)) {
    const kind = statementKind(m[3]);
    const entry = byKind.get(kind) ?? { cpu: 0, calls: 0 };
    entry.cpu += Number(m[1]) + Number(m[2]);
    entry.calls++;
    each.push([Number(m[1]) + Number(m[2]), m[3].slice(0, 90)]);
    byKind.set(kind, entry);
  }
  const sorted = [...byKind].sort((a, b) => b[1].cpu - a[1].cpu);
  const total = sorted.reduce((sum, [, e]) => sum + e.cpu, 0);
  console.log(`  ${cluster} statement CPU ${total.toFixed(1)} s:`);
  for (const [kind, e] of sorted.slice(0, 15)) console.log(`    ${e.cpu.toFixed(2).padStart(7)} s  ${String(e.calls).padStart(6)}×  ${kind}`);
  console.log('  costliest statements:');
  for (const [cpu, sql] of each.sort((a, b) => b[0] - a[0]).slice(0, 8)) console.log(`    ${cpu.toFixed(2).padStart(7)} s  ${sql}`);
}

/** The target's WAL position and checkpoint count: how much WAL a run wrote. */
async function targetWal(target: PgCluster): Promise<{ bytes: number; checkpoints: number; fpi: number }> {
  const rows = await target.query(
    "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::float8 AS bytes, (SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter)::int AS checkpoints, (SELECT wal_fpi FROM pg_stat_wal)::float8 AS fpi",
  );
  return { bytes: Number(rows[0].bytes), checkpoints: Number(rows[0].checkpoints), fpi: Number(rows[0].fpi) };
}

async function main(): Promise<void> {
  const db = arg('--db') ?? 'bench';
  const runs = Number(arg('--runs') ?? '1');
  const only = arg('--only')?.split(',');
  const extraSpec = arg('--spec');
  const variantSpec = arg('--spec-b');
  const tools = ALL_TOOLS.filter((t) => (only ? only.includes(t.name) : [pgferry.name, dumpPipePsql.name].includes(t.name))).map((t) =>
    t === pgferry && extraSpec ? pgferryTool(pgferry.name, `${extraSpec}\n`) : t,
  );
  // A second pgferry, alternating with the first, to weigh a setting against the default on the same host minute by minute.
  if (variantSpec !== undefined) tools.splice(1, 0, pgferryTool('pgferry B', `${variantSpec}\n`));
  const statements = process.argv.includes('--statements');
  const statementStats: Record<string, string> = statements ? { log_statement_stats: 'on', log_min_error_statement: 'log', log_line_prefix: '' } : {};
  const timeline = process.argv.includes('--timeline');
  const timelineSettings = timeline ? TIMELINE_SETTINGS : {};
  const source = await startPostgres({ name: 'prof-src', logical: true, settings: { ...BENCH_SETTINGS, ...statementStats } });
  const titles = process.argv.includes('--titles');
  const target = await startPostgres({
    name: 'prof-tgt',
    settings: { ...BENCH_SETTINGS, ...statementStats, ...timelineSettings },
  });
  const logs = { source: join(dirname(source.dataDir), 'server.log'), target: join(dirname(target.dataDir), 'server.log') };
  const temporal = await startTemporalServer();
  try {
    if (db === 'tiny') await buildTinyDatabase(source, db, FULL_SIZE.tinyTables);
    else if (db === 'pgbench') await buildPgbenchDatabase(source, db, Number(arg('--scale') ?? '100'));
    else await buildBigDatabase(source, db, FULL_SIZE);
    await source.query('CHECKPOINT');
    const groups = { source: postmasterPid(source), target: postmasterPid(target), temporal: temporalPid(temporal.address) };
    for (let run = 0; run < runs; run++) {
      for (const tool of run % 2 === 0 ? tools : [...tools].reverse()) {
        await recreateDatabase(target, db);
        const ctx = { source, target, db, temporalAddress: temporal.address, jobs: arg('--jobs') === undefined ? undefined : Number(arg('--jobs')) };
        const prepared: Prepared | undefined = await tool.prepare?.(ctx);
        const pids: Record<string, number> = { ...groups, ...(prepared?.worker ? { worker: prepared.worker.pid } : {}) };
        // Read before the CPU counters are: the session that reads it is not the tool's work.
        const walBefore = await targetWal(target);
        const logStart = statements || timeline ? { source: statSync(logs.source).size, target: statSync(logs.target).size } : undefined;
        const samplers = titles ? { source: new ProcessTitleSampler(groups.source), target: new ProcessTitleSampler(groups.target) } : undefined;
        samplers?.source.start();
        samplers?.target.start();
        const cores = timeline ? new BusyCores() : undefined;
        cores?.start();
        const startedAt = Date.now();
        const before = allProcesses();
        const machineBefore = machineBusySeconds();
        const started = process.hrtime.bigint();
        await tool.run(ctx, prepared);
        const wall = Number(process.hrtime.bigint() - started) / 1e9;
        const after = allProcesses();
        const machine = machineBusySeconds() - machineBefore;
        const walAfter = await targetWal(target);
        const byKind = samplers && { source: samplers.source.stop(), target: samplers.target.stop() };
        await prepared?.stop();
        const totals = Object.entries(pids).map(([name, pid]) => {
          const [a, b] = [treeTotals(pid, after), treeTotals(pid, before)];
          return { name, seconds: a.seconds - b.seconds, systemSeconds: a.systemSeconds - b.systemSeconds, faults: a.faults - b.faults };
        });
        const parts = totals.map((t) => [t.name, t.seconds] as const);
        const known = parts.reduce((sum, [, s]) => sum + s, 0);
        const busy = cores?.stop();
        if (busy) {
          printTimeline('target', timedStatements(readFileSync(logs.target).subarray(logStart!.target).toString('utf8'), startedAt), busy);
          if (prepared?.worker) await printWorkflowTimeline(temporal.address, startedAt);
        }
        for (const cluster of statements ? (['source', 'target'] as const) : []) printStatementCpu(cluster, readFileSync(logs[cluster]).subarray(logStart![cluster]).toString('utf8'));
        console.log(`${tool.name} on ${db}: wall ${wall.toFixed(1)} s, machine CPU ${machine.toFixed(1)} s: ${parts.map(([n, s]) => `${n} ${s.toFixed(1)}`).join(', ')}, rest ${(machine - known).toFixed(1)}`);
        console.log(`  target WAL ${((walAfter.bytes - walBefore.bytes) / 2 ** 20).toFixed(0)} MiB, checkpoints ${walAfter.checkpoints - walBefore.checkpoints}, full-page images ${walAfter.fpi - walBefore.fpi}`);
        // System time and minor page faults: a fresh backend maps each shared buffer it touches (bench/RESULTS-levers.md, twelfth pass).
        console.log(`  of which system: ${totals.map((t) => `${t.name} ${t.systemSeconds.toFixed(1)} s (${(t.faults / 1000).toFixed(0)}k minor faults)`).join(', ')}`);
        for (const [cluster, kinds] of Object.entries(byKind ?? {})) {
          const shown = kinds.filter((k) => k.seconds >= 0.05 || k.faults >= 5000);
          console.log(`  ${cluster} by process (CPU s, system s, minor faults): ${shown.map((k) => `${k.kind} ${k.seconds.toFixed(2)} (${k.systemSeconds.toFixed(2)}, ${(k.faults / 1000).toFixed(0)}k)`).join(', ')}`);
        }
      }
    }
  } finally {
    await temporal.stop();
    await source.stop();
    await target.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
