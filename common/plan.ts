/**
 * The migration plan and its progress: small facts that travel through Temporal.
 * Rows never do; only table names, counts, sizes and states.
 */
import type { Rates } from './rates';
import type { StreamOutlook } from './stream-outlook';
import type { DdlProgress } from './ddl';
import type { StreamProgress } from './stream';
import type { ControlView } from './control';
import type { ChunkRange, TableSplit } from './table-split';
import type { LargeObjectSync, LargeObjectValidation } from './large-objects';
import type { VerificationView } from './verification';
import type { WayBackOutcome, WayBackReady } from './way-back';

/** Large objects in the progress and the report (absent when the source has none, or they are left out). */
export interface LargeObjectsSummary {
  objects: number;
  bytes: number;
  copiedObjects: number;
  copiedBytes: number;
  validation?: LargeObjectValidation;
}

/** A table that holds data (a plain table or a leaf partition), as found on the source. */
export interface TableRef {
  schema: string;
  name: string;
  /** On-disk size on the source, used to order and group copies and to estimate progress. */
  estimatedBytes: number;
  /** Already in the target before the migration (conflicts: ignore): rows are added, not replaced. */
  preexisting?: boolean;
  /** Its name in the target when objects.rename changes it (tables are renamed after post-data). */
  target?: { schema: string; name: string };
  /** The columns migrated, when not all of them (source names, in table order). */
  columns?: string[];
  /** Only rows matching this SQL condition are migrated (objects.tables.<table>.where). */
  where?: string;
  /** Copied in chunks (copy.splitLargerThan): how its rows are divided. */
  split?: TableSplit;
}

/** Where a table's rows are written during the copy: pre-existing tables already carry the target name. */
export function copyDestination(t: TableRef): { schema: string; name: string } {
  return t.preexisting && t.target ? t.target : t;
}

/** One copy activity: a big table alone, a group of small ones, or one chunk of a split table. */
export interface CopyUnit {
  id: number;
  tables: TableRef[];
  /** The rows of its one table that this unit copies (a split table). */
  chunk?: ChunkRange;
}

export type TableState = 'pending' | 'copying' | 'copied' | 'indexed' | 'done' | 'failed';

export interface TableCopyResult {
  schema: string;
  name: string;
  rows: number;
  bytes: number;
  ms: number;
  /** Checksum of the source rows read under the snapshot (validation: checksum only). */
  sourceChecksum?: string;
  /** conflicts: ignore into a pre-existing table: source rows whose key was already there (the target's row kept). */
  rowsKept?: number;
  /** A split table's chunk: its figures are summed with the other chunks' into the table's. */
  chunk?: { index: number; count: number };
  /** The worker that copied it (`<pid>@<host>`); a split table's: every worker that copied a chunk. */
  worker?: string;
  /** Committed by an earlier data phase, under this (lost) snapshot whose work is kept. */
  snapshot?: string;
  /** A retried copy: bytes the failed attempt had read (its last heartbeat's count, up to ~8 s behind), read again. */
  reread?: number;
}

/** A copied table's rate in MB/s (one decimal); 0 when it took no measurable time. */
export function tableMbPerSecond(t: Pick<TableCopyResult, 'bytes' | 'ms'>): number {
  return t.ms > 0 ? Math.round((t.bytes / 1048576 / (t.ms / 1000)) * 10) / 10 : 0;
}

export interface TableProgress {
  schema: string;
  name: string;
  state: TableState;
  rows: number;
  bytes: number;
  estimatedBytes: number;
  ms?: number;
  error?: string;
}

export type Phase =
  | 'scheduled'
  | 'precheck'
  | 'snapshot'
  | 'pre-data'
  | 'data'
  | 'post-data'
  | 'validation'
  | 'streaming'
  | 'cutover'
  | 'fallback-ready'
  | 'rollback'
  | 'done'
  | 'failed'
  | 'cancelled';

export interface PhaseTiming {
  phase: Phase;
  ms: number;
}

// The precheck's items and report live in precheck.ts; re-exported for existing imports.
export type { CheckItem, CheckStatus, PrecheckReport } from './precheck';

export interface TableValidation {
  schema: string;
  name: string;
  expectedRows: number;
  actualRows: number;
  expectedChecksum?: string;
  actualChecksum?: string;
  ok: boolean;
}

/** What a lost snapshot cost: work copied under it, copied again under the next. */
export interface RedoneWork {
  tables: number;
  bytes: number;
}

export interface MigrationReport {
  source: string;
  target: string;
  types: string[];
  /** One entry per table, as the copy recorded it (MB/s is derived: tableMbPerSecond). */
  tables: TableCopyResult[];
  phases: PhaseTiming[];
  warnings: string[];
  validation: { mode: 'count' | 'checksum'; tablesChecked: number; mismatches: TableValidation[] };
  totalRows: number;
  totalBytes: number;
  totalMs: number;
  /** Incremental migrations: the cutover. */
  cutover?: CutoverResult;
  largeObjects?: LargeObjectsSummary;
  /** Copied again because the snapshot it was read under was lost (absent: nothing). */
  redone?: RedoneWork;
  /** Online verification rounds while streaming (absent: none ran). */
  verification?: VerificationView;
  /** incremental.wayBack: how the way back ended (rolled back, or finished). */
  wayBack?: WayBackOutcome;
}

/** What `pgferry cutover` asks for. */
export interface CutoverRequest {
  /** Make the source read-only for new transactions and wait for running writers first. */
  lockSource: boolean;
  /**
   * Give up when the stream has not reached the cutover marker this many seconds after the
   * request: the source is unlocked again (when locked), the stream goes on, nothing is lost,
   * and the request fails saying so. Absent: wait as long as it takes.
   */
  timeoutSeconds?: number;
  /**
   * Refuse (nothing changes) unless the last verification round started at or after `sinceMs`
   * (absent: at any time) and left every table equal (`pgferry cutover --require-verified`).
   */
  requireVerified?: { sinceMs?: number; since?: string };
}

/** What the cutover returns once the target is ready. */
export interface CutoverResult {
  /** The source position the target is exactly at (the cutover marker). */
  lsn: string;
  /** From the cutover request to the target being ready, in ms. */
  downtimeMs: number;
  sourceLocked: boolean;
  sequences: number;
  validation: { mode: 'count' | 'checksum'; tablesChecked: number; mismatches: TableValidation[] };
  /** Change stream totals. */
  changesApplied: number;
  transactionsApplied: number;
  droppedSlots: string[];
  /** Large objects brought up to the source's (logical decoding does not carry them) and compared. */
  largeObjects?: { sync: LargeObjectSync; validation: LargeObjectValidation };
  /** DDL replicated from the source during the stream (incremental.ddl). */
  ddl?: DdlProgress;
  /** incremental.wayBack: the reverse stream prepared (the migration stays open in phase fallback-ready). */
  wayBack?: WayBackReady;
  /** incremental.wayBack, but the way back could not be prepared: why (the cutover itself is done). */
  wayBackNotPrepared?: string;
}

export interface MigrationProgress extends Partial<ControlView> {
  phase: Phase;
  tables: TableProgress[];
  tablesDone: number;
  tablesTotal: number;
  bytesCopied: number;
  bytesEstimated: number;
  /** 0–100, by bytes. */
  percent: number;
  /** Time spent in each phase left so far. */
  phases?: PhaseTiming[];
  warnings: string[];
  startedAt: number;
  /** The migration's workflow id (absent from workers before it was reported). */
  workflowId?: string;
  snapshot?: string;
  /** Incremental migrations: the child workflow streaming changes (query it for lag). */
  streamWorkflowId?: string;
  /** The stream's last report, as of when the migration workflow last heard of it. */
  stream?: StreamProgress;
  largeObjects?: LargeObjectsSummary;
  redone?: RedoneWork;
  /** While copying: MB/s and rows/s now and on average, and the time left. */
  rates?: Rates;
  /** While streaming: caught up or not, as the stream last told the migration. */
  streamOutlook?: StreamOutlook;
  /** Online verification while streaming (absent: no round yet). */
  verification?: VerificationView;
}

/** A table's progress by its estimated size (finished tables: 100). */
export function tablePercent(t: TableProgress): number {
  if (['copied', 'indexed', 'done'].includes(t.state)) return 100;
  return t.estimatedBytes > 0 ? Math.min(99, Math.floor((100 * t.bytes) / t.estimatedBytes)) : 0;
}

/** A map key for a table; JSON so that dots and quotes inside names cannot collide. */
export function tableKey(t: { schema: string; name: string }): string {
  return JSON.stringify([t.schema, t.name]);
}

/** A display name that is unambiguous for odd identifiers: sales.orders, "Sales"."Order Items". */
export function displayName(t: { schema: string; name: string }): string {
  const part = (s: string) => (/^[a-z_][a-z0-9_]*$/.test(s) ? s : `"${s.replace(/"/g, '""')}"`);
  return `${part(t.schema)}.${part(t.name)}`;
}
