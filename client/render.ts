/** Text rendering for the CLI: live progress, the final report (the precheck's is in precheck-output.ts). */
import { fallbackNextStep } from '../common/way-back';
import { renderWayBackOutcome, renderWayBackReady } from './render-way-back';
import { displayName, tableMbPerSecond, tablePercent, type CutoverResult, type LargeObjectsSummary, type MigrationProgress, type MigrationReport } from '../common/plan';
import type { LargeObjectValidation } from '../common/large-objects';
import { changeCount, type StreamProgress } from '../common/stream';
import { formatBytes } from '../common/format';
import type { ControlView } from '../common/control';
import { describeLimit, isUnlimited } from '../common/throttle';
import { describeRates } from '../common/rates';
import { describeOutlook, streamingNextStep } from '../common/stream-outlook';
import { verificationText } from '../common/verification';

export function renderProgress(p: MigrationProgress, maxTables = 12): string {
  const lines = [
    `phase ${p.phase}${p.paused ? ' (PAUSED)' : ''}  ·  tables ${p.tablesDone}/${p.tablesTotal}  ·  ${formatBytes(p.bytesCopied)} copied  ·  ${p.percent}%  ${bar(p.percent)}`,
  ];
  if (p.rates) lines.push(`rate ${describeRates(p.rates)}`);
  const limited = p.throttle && !(isUnlimited(p.throttle.full) && isUnlimited(p.throttle.incremental));
  if (p.throttle && (limited || p.paused || p.phase === 'scheduled')) lines.push(renderControl(p as ControlView, p.phase === 'scheduled'));
  if (p.largeObjects) lines.push(renderLargeObjects(p.largeObjects));
  if (p.redone) lines.push(`copied again after a lost snapshot: ${p.redone.tables} tables, ${formatBytes(p.redone.bytes)}`);
  if (p.stream) lines.push(renderStream(p.stream));
  else if (p.streamWorkflowId) lines.push(`stream ${p.streamWorkflowId}: starting`);
  if (p.verification) lines.push(verificationText(p.verification));
  if (p.phase === 'streaming') lines.push(`next: ${streamingNextStep(p.workflowId ?? '<id>', p.stream?.outlook ?? p.streamOutlook)}`);
  if (p.phase === 'fallback-ready') lines.push(`next: ${fallbackNextStep(p.workflowId ?? '<id>')}`);
  const busy = p.tables.filter((t) => t.state === 'copying' || t.state === 'failed').slice(0, maxTables);
  for (const t of busy) {
    const error = t.error ? `  ${t.error}` : '';
    const share = t.state === 'copying' && t.estimatedBytes > 0 ? ` (${tablePercent(t)}% of ~${formatBytes(t.estimatedBytes)})` : '';
    lines.push(`  ${t.state.padEnd(8)} ${displayName(t)}  ${t.rows} rows  ${formatBytes(t.bytes)}${share}${error}`);
  }
  return lines.join('\n');
}

/** Pause, throttle and a scheduled start, in one or two lines. */
export function renderControl(c: ControlView, scheduled = Boolean(c.scheduledAt)): string {
  const lines: string[] = [];
  if (scheduled && c.scheduledAt) lines.push(`scheduled to start at ${c.scheduledAt}`);
  if (c.paused) lines.push(`paused since ${new Date(c.pausedAt ?? 0).toISOString()} (resume with pgferry resume)`);
  lines.push(`throttle: copy ${describeLimit(c.throttle.full)}  ·  change stream ${describeLimit(c.throttle.incremental)}`);
  return lines.join('\n');
}

export function renderStream(s: StreamProgress, maxTables = 8): string {
  const lines = [
    `stream ${s.state}  ·  applied ${s.appliedLsn ?? '-'}  ·  source ${s.sourceLsn ?? '-'}  ·  lag ${formatBytes(s.lagBytes)} / ${s.lagSeconds.toFixed(2)} s  ·  ${s.changesPerSecond} changes/s  ·  ${s.totalChanges} changes in ${s.transactions} transactions`,
  ];
  if (s.outlook) lines.push(`  ${describeOutlook(s.outlook)}`);
  if (s.ddl) lines.push(`DDL replicated: ${s.ddl.applied} applied, ${s.ddl.skipped} skipped${s.ddl.last ? `  ·  last (${s.ddl.last.action}): ${s.ddl.last.statement}` : ''}`);
  const busiest = [...s.tables].sort((a, b) => changeCount(b) - changeCount(a)).slice(0, maxTables);
  for (const t of busiest) lines.push(`  ${displayName(t)}  +${t.inserts} ~${t.updates} -${t.deletes}${t.truncates ? ` truncated ${t.truncates}×` : ''}`);
  return lines.join('\n');
}

export function renderLargeObjects(lo: LargeObjectsSummary): string {
  const v = lo.validation;
  const checked = v ? `  ·  validated (${v.mode}): ${v.ok ? `${v.actualObjects} equal` : `${v.mismatches.length} differ: ${describeMismatches(v)}`}` : '';
  return `large objects ${lo.copiedObjects}/${lo.objects} copied  ·  ${formatBytes(lo.copiedBytes)} of ${formatBytes(lo.bytes)}${checked}`;
}

function describeMismatches(v: LargeObjectValidation): string {
  return v.mismatches.slice(0, 5).map((m) => (m.oid ? `${m.oid} (${m.problem})` : m.problem)).join('; ');
}

export function renderCutover(r: CutoverResult, clientMs?: number): string {
  const lines = [
    `Cut over at source LSN ${r.lsn}: the target is ready.`,
    `Downtime ${(r.downtimeMs / 1000).toFixed(2)} s (from the cutover request to ready${clientMs !== undefined ? `; ${(clientMs / 1000).toFixed(2)} s as this command saw it` : ''})${r.sourceLocked ? ', source made read-only' : ''}.`,
    `Applied ${r.changesApplied} changes in ${r.transactionsApplied} transactions; ${r.sequences} sequences set; slots dropped: ${r.droppedSlots.join(', ') || 'none left'}.`,
    `Validation (${r.validation.mode}, source against target): ${r.validation.tablesChecked} tables, ${r.validation.mismatches.length} mismatches` +
      (r.validation.mismatches.length ? `: ${r.validation.mismatches.slice(0, 5).map((m) => `${displayName(m)} (source ${m.expectedRows} rows, target ${m.actualRows})`).join('; ')}` : ''),
  ];
  if (r.largeObjects) {
    const { sync, validation: v } = r.largeObjects;
    lines.push(
      `Large objects (not carried by the stream): ${sync.objects} compared in ${(sync.ms / 1000).toFixed(2)} s; ${sync.created} created, ${sync.rewritten} copied again, ${sync.dropped} unlinked, ${sync.metadata} with owner/comment/grants updated (${formatBytes(sync.bytesCopied)} copied); ` +
        `validation (${v.mode}): ${v.ok ? `${v.actualObjects} equal` : `${v.mismatches.length} differ: ${describeMismatches(v)}`}`,
    );
  }
  if (r.ddl) {
    lines.push(`DDL replicated from the source: ${r.ddl.applied} applied, ${r.ddl.skipped} skipped${r.ddl.records.length < r.ddl.applied + r.ddl.skipped ? ` (the last ${r.ddl.records.length} listed)` : ''}:`);
    for (const d of r.ddl.records) lines.push(`  ${d.lsn}  ${d.action}${d.reason ? ` (${d.reason})` : ''}${d.rowsCopied !== undefined ? ` (${d.rowsCopied} rows copied)` : ''}: ${d.statement}`);
  }
  if (r.wayBack) lines.push(renderWayBackReady(r.wayBack));
  if (r.wayBackNotPrepared) lines.push(`No way back: ${r.wayBackNotPrepared}`);
  if (r.sourceLocked) lines.push(r.wayBack ? 'The source stays read-only for applications until a rollback.' : 'The source stays read-only; to undo: ALTER DATABASE <db> RESET default_transaction_read_only;');
  return lines.join('\n');
}

/** Tables copied by each worker (a split table counts for every worker that copied a chunk of it). */
function copiedBy(r: MigrationReport): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of r.tables) for (const w of t.worker?.split(', ') ?? []) counts.set(w, (counts.get(w) ?? 0) + 1);
  return counts;
}

function bar(percent: number, width = 30): string {
  const filled = Math.round((Math.min(100, Math.max(0, percent)) / 100) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

export function renderReport(r: MigrationReport, maxTables = 20): string {
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const lines = [
    `Migrated ${r.source} → ${r.target} (${r.types.join(', ')}) in ${seconds(r.totalMs)}`,
    `${r.tables.length} tables, ${r.totalRows} rows, ${formatBytes(r.totalBytes)}`,
    `Phases: ${r.phases.map((p) => `${p.phase} ${seconds(p.ms)}`).join(', ')}`,
    `Validation (${r.validation.mode}): ${r.validation.tablesChecked} tables checked, ${r.validation.mismatches.length} mismatches`,
  ];
  if (r.largeObjects) lines.push(renderLargeObjects(r.largeObjects));
  if (r.redone) lines.push(`Copied again after a lost snapshot: ${r.redone.tables} tables, ${formatBytes(r.redone.bytes)}`);
  const biggest = [...r.tables].sort((a, b) => b.bytes - a.bytes).slice(0, maxTables);
  if (biggest.length) {
    lines.push('', 'table'.padEnd(40) + 'rows'.padStart(12) + 'size'.padStart(12) + 'time'.padStart(10) + 'MB/s'.padStart(8));
    for (const t of biggest) {
      lines.push(displayName(t).slice(0, 39).padEnd(40) + String(t.rows).padStart(12) + formatBytes(t.bytes).padStart(12) + seconds(t.ms).padStart(10) + String(tableMbPerSecond(t)).padStart(8));
    }
    if (r.tables.length > biggest.length) lines.push(`… and ${r.tables.length - biggest.length} smaller tables (--json lists all)`);
  }
  const workers = copiedBy(r);
  if (workers.size > 1) lines.push(`Copied by ${workers.size} workers: ${[...workers].map(([w, n]) => `${w} (${n} tables)`).join(', ')}`);
  if (r.verification) lines.push('', verificationText(r.verification));
  if (r.cutover) lines.push('', renderCutover(r.cutover));
  if (r.wayBack) lines.push('', renderWayBackOutcome(r.wayBack));
  if (r.warnings.length) lines.push('', 'Warnings:', ...r.warnings.map((w) => `  - ${w}`));
  return lines.join('\n');
}
