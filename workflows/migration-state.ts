/**
 * What the migration workflow knows while it runs: the phase, each table's state, phase
 * timings and warnings. It answers the `progress` query and renders the Markdown that the
 * Temporal Web UI shows as the workflow's current details. Pure logic: no Temporal calls.
 */
import { fallbackNextStep } from '../common/way-back';
import type { TableProgressUpdate } from '../common/messages';
import {
  displayName,
  tablePercent,
  type RedoneWork,
  tableKey,
  type MigrationProgress,
  type Phase,
  type PhaseTiming,
  type TableCopyResult,
  type TableProgress,
  type TableRef,
  type TableState,
} from '../common/plan';
import { formatBytes } from '../common/format';
import type { ControlState } from './control-state';
import type { LargeObjectProgress } from './large-object-progress';
import { addChecksums } from '../common/table-split';
import { describeRates, RateWindow } from '../common/rates';
import { describeOutlook, streamingNextStep, type StreamOutlook } from '../common/stream-outlook';
import { verificationMarkdown, type VerificationView } from '../common/verification';

/** The Web UI's details are capped (20 KB); past this many tables only the busy ones are listed. */
const DETAIL_TABLE_ROWS = 60;
const DETAIL_WARNINGS = 20;

export class MigrationState {
  phase: Phase = 'precheck';
  readonly warnings: string[] = [];
  readonly phases: PhaseTiming[] = [];
  snapshot?: string;
  streamWorkflowId?: string;
  /** Named in the next step the details suggest (`pgferry cutover <id>`). */
  workflowId?: string;
  /** The stream's standing as it last told this workflow (it reports changes only). */
  streamOutlook?: StreamOutlook;
  /** Online verification while streaming (incremental migrations), kept up to date by workflows/verification.ts. */
  verification?: VerificationView;
  /** Bytes and rows copied over time, for rates and the time left. */
  private readonly copyRates = new RateWindow();
  /** Scheduled start, pause and throttle (shown with the progress). */
  control?: ControlState;
  /** Set once the source's large objects are listed (none: undefined). */
  largeObjects?: LargeObjectProgress;
  private phaseStartedAt: number;
  private readonly tables = new Map<string, TableProgress>();
  readonly results = new Map<string, TableCopyResult>();
  /** Work copied under snapshots that were lost, and so copied again (tables, and bytes with large objects). */
  readonly redone: RedoneWork = { tables: 0, bytes: 0 };
  /** Split tables: each chunk's live progress and results, until all are in. */
  private readonly chunks = new Map<string, ChunkTally>();

  /** Moved to the real start when the migration waited for its scheduled time. */
  constructor(public startedAt: number) {
    this.phaseStartedAt = startedAt;
  }

  enter(phase: Phase, now: number): void {
    this.closePhase(now);
    this.phase = phase;
    this.phaseStartedAt = now;
  }

  /** Records the time spent in the current phase (called when leaving it). */
  closePhase(now: number): void {
    if (['done', 'failed', 'cancelled'].includes(this.phase)) return;
    const existing = this.phases.find((p) => p.phase === this.phase);
    const ms = now - this.phaseStartedAt;
    if (existing) existing.ms += ms;
    else this.phases.push({ phase: this.phase, ms });
    this.phaseStartedAt = now;
  }

  setTables(tables: TableRef[]): void {
    this.tables.clear();
    for (const t of tables) {
      this.tables.set(tableKey(t), { schema: t.schema, name: t.name, state: 'pending', rows: 0, bytes: 0, estimatedBytes: t.estimatedBytes });
    }
  }

  /**
   * The snapshot was lost: the data phase starts again under a new one, copying what is not
   * kept (`kept`: a whole table, or one chunk of a split table). Returns what was read under
   * the lost snapshot and is read again — copies not kept, and `inFlight`, the bytes copies on
   * dead workers had read (their last heartbeats') — also added up in `redone`. Copies running
   * on live workers finished under the lost snapshot (they had imported it). Large objects are
   * always copied again.
   */
  restartCopies(kept: (table: { schema: string; name: string }, chunk?: number) => boolean, inFlight: RedoneWork = { tables: 0, bytes: 0 }): RedoneWork {
    const lost: RedoneWork = { tables: inFlight.tables, bytes: inFlight.bytes + (this.largeObjects?.view().copiedBytes ?? 0) };
    for (const [key, t] of this.tables) {
      const chunks = this.chunks.get(key);
      let bytes = 0;
      if (chunks) {
        for (const [index, c] of chunks.done) {
          if (kept(t, index)) continue;
          bytes += c.bytes;
          chunks.done.delete(index);
        }
        chunks.live.clear();
        const count = [...chunks.done.values()][0]?.chunk?.count;
        if (count === undefined || chunks.done.size < count) this.results.delete(key);
        const copied = this.results.has(key);
        Object.assign(t, { state: copied ? 'copied' : 'pending', ...chunkTotals(chunks), error: undefined });
        if (!copied) t.ms = undefined;
      } else if (!kept(t)) {
        bytes = t.state === 'copied' ? t.bytes : 0; // a copy in flight: counted in inFlight
        if (t.state === 'copied' && bytes === 0) lost.tables += 1; // an empty table copied again
        this.results.delete(key);
        Object.assign(t, { state: 'pending', rows: 0, bytes: 0, ms: undefined, error: undefined });
      }
      if (bytes > 0) {
        lost.tables += 1;
        lost.bytes += bytes;
      }
    }
    this.redone.tables += lost.tables;
    this.redone.bytes += lost.bytes;
    this.largeObjects?.reset();
    return lost;
  }

  /** Live progress from copy activities; never moves a table backwards. */
  applyProgress(updates: TableProgressUpdate[], now?: number): void {
    this.applyUpdates(updates);
    if (now !== undefined) this.sampleRates(now);
  }

  private sampleRates(now: number): void {
    const tables = this.tableList();
    this.copyRates.sample(now, tables.reduce((s, t) => s + t.bytes, 0), tables.reduce((s, t) => s + t.rows, 0));
  }

  private applyUpdates(updates: TableProgressUpdate[]): void {
    for (const u of updates) {
      const t = this.tables.get(tableKey(u));
      if (!t || t.state !== 'pending' && t.state !== 'copying') continue;
      if (u.chunk === undefined) {
        Object.assign(t, { state: u.state, rows: u.rows, bytes: u.bytes });
        continue;
      }
      const chunks = this.chunksOf(tableKey(u));
      if (chunks.done.has(u.chunk)) continue; // late news of a finished chunk
      chunks.live.set(u.chunk, { rows: u.rows, bytes: u.bytes });
      Object.assign(t, { state: 'copying', ...chunkTotals(chunks) });
    }
  }

  recordCopied(results: TableCopyResult[], now?: number): void {
    this.recordResults(results);
    if (now !== undefined) this.sampleRates(now);
  }

  private recordResults(results: TableCopyResult[]): void {
    const reread = results[0]?.reread;
    if (reread !== undefined) {
      // A failed attempt (a dead worker, a broken connection) had read this much: read again.
      this.redone.tables += 1;
      this.redone.bytes += reread;
    }
    for (const r of results) {
      const key = tableKey(r);
      const t = this.tables.get(key);
      if (r.chunk) {
        // A split table is copied once all its chunks are: its figures are their sums.
        const chunks = this.chunksOf(key);
        chunks.done.set(r.chunk.index, r);
        chunks.live.delete(r.chunk.index);
        if (chunks.done.size < r.chunk.count) {
          if (t) Object.assign(t, { state: 'copying', ...chunkTotals(chunks) });
          continue;
        }
        this.results.set(key, combineChunks([...chunks.done.values()]));
      } else {
        this.results.set(key, r);
      }
      const whole = this.results.get(key)!;
      if (t) Object.assign(t, { state: 'copied', rows: whole.rows, bytes: whole.bytes, ms: whole.ms });
    }
  }

  private chunksOf(key: string): ChunkTally {
    let tally = this.chunks.get(key);
    if (!tally) this.chunks.set(key, (tally = { live: new Map(), done: new Map() }));
    return tally;
  }

  markAll(from: TableState[], to: TableState): void {
    for (const t of this.tables.values()) if (from.includes(t.state)) t.state = to;
  }

  markFailed(table: { schema: string; name: string }, error: string): void {
    const t = this.tables.get(tableKey(table));
    if (t) Object.assign(t, { state: 'failed', error });
  }

  tableList(): TableProgress[] {
    return [...this.tables.values()];
  }

  progress(): MigrationProgress {
    const tables = this.tableList();
    const finished: TableState[] = ['copied', 'indexed', 'done'];
    const bytesEstimated = tables.reduce((s, t) => s + t.estimatedBytes, 0);
    // Done tables count fully; busy ones by what they copied, never past their estimate.
    const bytesProgress = tables.reduce(
      (s, t) => s + (finished.includes(t.state) ? t.estimatedBytes : Math.min(t.bytes, t.estimatedBytes)),
      0,
    );
    const bytesCopied = tables.reduce((s, t) => s + t.bytes, 0);
    const dataDone = ['post-data', 'validation', 'streaming', 'cutover', 'fallback-ready', 'rollback', 'done'].includes(this.phase);
    const percent = dataDone ? 100 : bytesEstimated > 0 ? Math.floor((1000 * bytesProgress) / bytesEstimated) / 10 : 0;
    const rates = this.phase === 'data' ? this.copyRates.rates(bytesEstimated - bytesProgress, this.lastSampleAt()) : undefined;
    return {
      phase: this.phase,
      tables,
      tablesDone: tables.filter((t) => finished.includes(t.state)).length,
      tablesTotal: tables.length,
      bytesCopied,
      bytesEstimated,
      percent,
      phases: this.phases,
      warnings: this.warnings,
      startedAt: this.startedAt,
      ...(this.workflowId ? { workflowId: this.workflowId } : {}),
      snapshot: this.snapshot,
      streamWorkflowId: this.streamWorkflowId,
      ...(this.largeObjects ? { largeObjects: this.largeObjects.view() } : {}),
      ...(this.redone.tables || this.redone.bytes ? { redone: { ...this.redone } } : {}),
      ...(rates ? { rates } : {}),
      ...(this.streamOutlook ? { streamOutlook: this.streamOutlook } : {}),
      ...(this.verification && (this.verification.rounds || this.verification.running || this.verification.lastFailure) ? { verification: this.verification } : {}),
      ...this.control?.view(),
    };
  }

  /** Rates are measured as of the last progress report (the workflow's clock moves only with events). */
  private lastSampleAt(): number {
    return this.copyRates.lastAt ?? this.startedAt;
  }

  /** Markdown for the Web UI: the phase, totals, and a table of tables. */
  details(): string {
    const p = this.progress();
    const lines = [
      `**Phase:** ${p.phase} · **Tables:** ${p.tablesDone}/${p.tablesTotal} copied · **Data:** ${formatBytes(p.bytesCopied)} (${p.percent}%)`,
      '',
      ...(this.control?.details(p.phase) ?? []),
    ];
    if (this.largeObjects) lines.push(this.largeObjects.details(), '');
    if (p.redone) lines.push(`**Copied again after a lost snapshot:** ${p.redone.tables} tables, ${formatBytes(p.redone.bytes)}`, '');
    if (p.rates) lines.push(`**Rate:** ${describeRates(p.rates)}`, '');
    if (this.streamWorkflowId) lines.push(...streamLines(this.streamWorkflowId, this.workflowId ?? '<id>', p.phase, this.streamOutlook));
    if (p.verification) lines.push(...verificationMarkdown(p.verification), '');
    if (p.warnings.length) lines.push(`**Warnings (${p.warnings.length}):**`, ...p.warnings.slice(0, DETAIL_WARNINGS).map((w) => `- ${w.slice(0, 400)}`), '');
    const busyFirst = [...p.tables].sort((a, b) => stateOrder(a.state) - stateOrder(b.state));
    const shown = busyFirst.slice(0, DETAIL_TABLE_ROWS);
    if (shown.length) {
      lines.push('| table | state | rows | size | % |', '|---|---|---:|---:|---:|');
      for (const t of shown) {
        const error = t.error ? ` — ${t.error.slice(0, 120).replace(/\|/g, '/')}` : '';
        lines.push(`| ${displayName(t).replace(/\|/g, '/')} | ${t.state}${error} | ${t.rows} | ${formatBytes(t.bytes)} | ${tablePercent(t)} |`);
      }
      if (p.tables.length > shown.length) lines.push('', `…and ${p.tables.length - shown.length} more tables (pgferry status --json lists all).`);
    }
    return lines.join('\n');
  }
}

interface ChunkTally {
  live: Map<number, { rows: number; bytes: number }>;
  done: Map<number, TableCopyResult>;
}

function chunkTotals(tally: ChunkTally): { rows: number; bytes: number } {
  const all = [...tally.done.values(), ...tally.live.values()];
  return { rows: all.reduce((s, c) => s + c.rows, 0), bytes: all.reduce((s, c) => s + c.bytes, 0) };
}

/** A split table's result: the chunks' rows, bytes and checksums added up; its time, the longest chunk's. */
function combineChunks(chunks: TableCopyResult[]): TableCopyResult {
  const [first] = chunks;
  const result: TableCopyResult = {
    schema: first.schema,
    name: first.name,
    rows: chunks.reduce((s, c) => s + c.rows, 0),
    bytes: chunks.reduce((s, c) => s + c.bytes, 0),
    ms: Math.max(...chunks.map((c) => c.ms)),
  };
  if (chunks.every((c) => c.sourceChecksum !== undefined)) result.sourceChecksum = chunks.map((c) => c.sourceChecksum!).reduce(addChecksums);
  if (chunks.some((c) => c.rowsKept !== undefined)) result.rowsKept = chunks.reduce((s, c) => s + (c.rowsKept ?? 0), 0);
  const workers = [...new Set(chunks.map((c) => c.worker).filter((w) => w !== undefined))].sort();
  if (workers.length) result.worker = workers.join(', ');
  return result;
}

/** The stream's standing and what to do next, on the migration's page. */
function streamLines(streamId: string, workflowId: string, phase: Phase, outlook: StreamOutlook | undefined): string[] {
  const link = `(live figures on the stream's page \`${streamId}\`)`;
  if (phase === 'fallback-ready') return [`**Way back:** streaming target → source in \`${streamId}\` ${link}`, '', `**Next step:** ${fallbackNextStep(workflowId)}`, ''];
  if (phase !== 'streaming') return [`**Change stream:** child workflow \`${streamId}\``, ''];
  const standing = outlook ? `${describeOutlook(outlook)} as of ${new Date(outlook.at).toISOString().slice(11, 19)} UTC` : 'starting';
  return [`**Change stream:** ${standing} ${link}`, '', `**Next step:** ${streamingNextStep(workflowId, outlook)}`, ''];
}

function stateOrder(state: TableState): number {
  return ['failed', 'copying', 'pending', 'copied', 'indexed', 'done'].indexOf(state);
}
