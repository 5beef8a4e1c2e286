/** bench/RESULTS-resume.md: the kill's cost (goal: ratio ≤ 1.2), every run, and the 1 TB projection. */
import { median } from './bench-helpers';
import type { Dataset } from './resume-dataset';
import type { LaneThroughput } from './resume-lanes';
import type { Victim } from './resume-kill';
import type { Kind, RunOutcome } from './resume-migration';
import { formatDuration, projectTerabyte } from './resume-projection';

export interface RunRecord extends RunOutcome {
  /** Replication slots and publications left on the source after the run. */
  leftovers: string[];
  /** Copy units interrupted and run again (bench/copy-attempts.ts). */
  interrupted: string[];
}

export interface ResumeResults {
  command: string;
  machine: { cpus: number; model: string; memoryGiB: number; postgres: string };
  dataset: Dataset;
  /** copy.splitLargerThan as run, with '(default)' when it is the spec's default. */
  split: string;
  lanesPerWorker: number;
  workers: number;
  killFraction: number;
  runs: RunRecord[];
  /** From the first run without a kill. */
  lanes?: { from: string; throughput: LaneThroughput; dataPhaseMs: number; totalMs: number };
  partial: string[];
}

const GOAL = 1.2;
const VICTIMS: Victim[] = ['holder', 'other'];
const VICTIM_TEXT: Record<Victim, string> = { holder: 'snapshot holder killed', other: 'a worker not holding the snapshot killed' };
const MiB = 2 ** 20;
const GiB = 2 ** 30;
const s = (x: number) => x.toFixed(1);

export function renderResults(r: ResumeResults): string {
  return [...header(r), ...ratios(r), ...runTable(r), ...projection(r), ...notes(r)].join('\n') + '\n';
}

function header(r: ResumeResults): string[] {
  const d = r.dataset;
  const chunks = r.lanes?.throughput.chunks.length;
  return [
    '# One worker killed in the middle of a big table\'s copy: results',
    '',
    ...(r.partial.length ? [`**Partial run** (${r.partial.join('; ')}): not the benchmark of issue 13, a smoke test of it.`, ''] : []),
    `Run ${new Date().toISOString()} with \`${r.command}\` on ${r.machine.cpus} cores (${r.machine.model}), ${r.machine.memoryGiB.toFixed(0)} GiB, PostgreSQL ${r.machine.postgres}: source and target clusters on this host (bench/settings.ts), a Temporal dev server, ${r.workers} worker processes on the migration's task queue.`,
    '',
    `Dataset: pgbench scale ${d.scale}: pgbench_accounts ${(d.bigTableBytes / GiB).toFixed(2)} GiB (${d.bigTableRows.toLocaleString('en-US')} rows, primary key; copied as ${chunks ?? '?'} chunks with copy.splitLargerThan ${r.split}) and ${d.tables - 1} small tables; database ${(d.databaseBytes / GiB).toFixed(2)} GiB. The source is quiet: no writes during the migrations.`,
    '',
    `Spec: the default but for \`types\` (\`[schema, full]\`, \`[schema, full, incremental]\`) and the precheck warnings pgbench causes, acknowledged${r.split.includes('default') ? '' : ` (and copy.splitLargerThan ${r.split})`}: parallelism.tables ${r.lanesPerWorker}, validation count. Each run: a fresh target database, CHECKPOINT, ${r.workers} fresh workers started before the clock; timed from \`pgferry start\` to the workflow's result (incremental: \`pgferry cutover\` as soon as the phase is streaming). **Kill**: SIGKILL of the worker running holdSnapshot (the snapshot is lost with it: the worst case) once the target's pgbench_accounts heap has reached ${Math.round(r.killFraction * 100)} % of the source's; a replacement worker started at once, as a supervisor would.${r.runs.some((x) => x.kill?.victim === 'other') ? ' Variant "other": at the same point, SIGKILL of a worker that does not hold the snapshot while it copies chunks of the big table (only its chunks in flight are lost).' : ''} Runs with and without the kill alternate. Every target checked against the source (bench/verify.ts: rows per table, indexes, constraints, triggers, views) besides pgferry's own validation.`,
    '',
  ];
}

function ratios(r: ResumeResults): string[] {
  const lines = ['## Time with the kill ÷ time without (goal ≤ 1.2)', '', '| migration | without kill, s (median; runs) | with kill, s (median; runs) | ratio | ≤ 1.2 |', '|---|---|---|---:|---|'];
  for (const kind of kindsRun(r)) {
    const without = r.runs.filter((x) => x.kind === kind && !x.kill).map((x) => x.seconds);
    for (const victim of VICTIMS) {
      const withKill = r.runs.filter((x) => x.kind === kind && x.kill?.victim === victim).map((x) => x.seconds);
      if (!without.length || !withKill.length) continue;
      const ratio = median(withKill) / median(without);
      lines.push(`| ${kind}, ${VICTIM_TEXT[victim]} | ${s(median(without))} (${without.map(s).join(', ')}) | ${s(median(withKill))} (${withKill.map(s).join(', ')}) | ${ratio.toFixed(2)}× | ${ratio <= GOAL ? 'yes' : '**no**'} |`);
    }
  }
  return [...lines, ''];
}

function runTable(r: ResumeResults): string[] {
  const lines = [
    '## Every run',
    '',
    "| # | migration | worker killed | seconds | killed at | new snapshot after | copied again: the report's redone | units run again (history) | data phase | cutover downtime | left on source |",
    '|---:|---|---|---:|---|---:|---|---|---:|---:|---|',
  ];
  r.runs.forEach((x, i) => {
    const data = x.report.phases.find((p) => p.phase === 'data');
    const kill = x.kill ? `${s(x.kill.atSeconds)} s, heap ${Math.round(x.kill.heapFraction * 100)} %, ${x.kill.worker} (${plural(x.kill.chunksInFlight, 'chunk')} in flight)` : '–';
    const redone = x.report.redone ? `${plural(x.report.redone.tables, 'table')}, ${(x.report.redone.bytes / MiB).toFixed(0)} MiB` : 'nothing';
    const newHolder = x.kill?.newHolderAfterSeconds === undefined ? '–' : `${s(x.kill.newHolderAfterSeconds)} s`;
    lines.push(
      `| ${i + 1} | ${x.kind} | ${x.kill?.victim ?? 'none'} | ${s(x.seconds)} | ${kill} | ${newHolder} | ${redone} | ${x.interrupted.join(', ') || 'none'} | ${data ? `${s(data.ms / 1000)} s` : '–'} | ${x.cutover ? `${s(x.cutover.downtimeMs / 1000)} s` : '–'} | ${x.leftovers.join(', ') || 'nothing'} |`,
    );
  });
  lines.push('', 'Warnings of the reports (but the precheck\'s acknowledged ones, about pgbench_history and DDL):', '');
  r.runs.forEach((x, i) => lines.push(`- run ${i + 1} (${x.kind}, ${x.kill ? `${x.kill.victim} killed` : 'no kill'}): ${ownWarnings(x).join(' / ') || 'none'}`));
  return [...lines, ''];
}

function projection(r: ResumeResults): string[] {
  if (!r.lanes) return [];
  const { throughput: t, from, dataPhaseMs, totalMs } = r.lanes;
  const diskPerCopyByte = r.dataset.bigTableBytes / t.bytes;
  const rows = projectTerabyte(t.perLane, diskPerCopyByte, r.lanesPerWorker, [1, 4, 16]);
  return [
    '## Projection of 1 TB (a projection, not measured)',
    '',
    `Measured on the big table in run ${from}: ${t.chunks.length} chunks, ${(t.bytes / MiB).toFixed(0)} MiB of COPY data (the table is ${diskPerCopyByte.toFixed(2)}× that on disk) in ${s(t.spanMs / 1000)} s from the first chunk's start to the last one's end: **${(t.aggregate / MiB).toFixed(1)} MiB/s for all lanes together, ${(t.perLane / MiB).toFixed(1)} MiB/s per lane** (a chunk's bytes over its own time, ${t.chunks.map((c) => (((c.bytes / c.ms) * 1000) / MiB).toFixed(1)).join(', ')} MiB/s). The copy (data phase) was ${Math.round((dataPhaseMs / totalMs) * 100)} % of that run's ${s(totalMs / 1000)} s.`,
    '',
    '| workers | copy lanes | projected rate (table data on disk) | projected copy time for 1 TB |',
    '|---:|---:|---:|---:|',
    ...rows.map((p) => `| ${p.workers} | ${p.lanes} | ${(p.bytesPerSecond / MiB).toFixed(0)} MiB/s | ${formatDuration(p.seconds)} |`),
    '',
    `Assumptions: 1 TB = 10¹² bytes of table data as pg_table_size counts it, in tables big enough to split into at least as many chunks as there are lanes; each worker runs ${r.lanesPerWorker} lanes (the default parallelism.tables) — since parallelism.tables limits the copies of the whole migration, not of one worker, that means setting it to ${r.lanesPerWorker} × the number of workers; every lane as fast as one measured here, which needs the source, the target and the network to grow with the lanes (on this ${r.machine.cpus}-core host the ${r.lanesPerWorker} lanes already shared the cores with both servers, so a lane here is slower than a lane on a dedicated core). Only the copy: index builds, validation and the fixed steps come on top.`,
    '',
  ];
}

function notes(r: ResumeResults): string[] {
  return [
    '## Notes',
    '',
    '- The source had no write load; with one, the incremental figures would add the changes streamed meanwhile.',
    "- \"Units run again\" come from the copy workflows' histories: copyUnit activities retried, or ended without a result, whose rows were read again. The report's `redone` counts those units, with the bytes each failed attempt had read by its last heartbeat that reached Temporal (up to about 8 s behind).",
    `- "Half done" is read on the target's heap (pg_relation_size grows with the pages of COPYs in flight), not from the progress query, whose bytes the copies update only every 15 s.`,
    `- The replacement worker is not needed for the migration to go on (the other worker serves it); it is there because a deployment restarts what dies (ready ${r.runs.filter((x) => x.kill).map((x) => `${s(x.kill!.replacedInSeconds)} s`).join(', ') || '–'} after the kill). "New snapshot after": from the kill to the start of holdSnapshot's next attempt, which waits for the activity's heartbeat timeout (5 s) to notice the dead worker.`,
    ...(r.runs.some((x) => x.leftovers.length) ? ['- **Replication slots or publications were left on the source** after some runs (column "left on source"); the benchmark dropped them before the next run.'] : []),
    '',
  ];
}

const ACKNOWLEDGED = /^(tables-without-key|ddl-during-migration|source-writes): /;

function ownWarnings(x: RunRecord): string[] {
  return x.report.warnings.filter((w) => !ACKNOWLEDGED.test(w)).map((w) => w.slice(0, 300));
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function kindsRun(r: ResumeResults): Kind[] {
  return (['full', 'incremental'] as Kind[]).filter((k) => r.runs.some((x) => x.kind === k));
}
