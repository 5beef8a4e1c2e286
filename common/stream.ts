/**
 * What the change stream reports and obeys: small facts that travel through Temporal (LSNs as
 * PostgreSQL's `X/Y` text, counters), never row data.
 */
import type { Operation } from './spec';

export const STREAM_STATS_SIGNAL = 'streamStats';
export const STREAM_CONTROL_QUERY = 'streamControl';

/** Per-table change counts. */
export interface TableChangeCounts {
  schema: string;
  name: string;
  inserts: number;
  updates: number;
  deletes: number;
  truncates: number;
}

/** Sent by the stream activity every few seconds: the latest position and the counts since the last report. */
export interface StreamStats {
  /** Position confirmed in the target (everything before it is applied). */
  appliedLsn: string;
  /** The source's current end of WAL, as the server last reported it. */
  sourceLsn: string;
  lagBytes: number;
  /** Age of the oldest source commit received but not yet applied; 0 when caught up. */
  lagSeconds: number;
  /** Row changes applied per second over the last report interval. */
  changesPerSecond: number;
  /** Row changes (and truncates) applied since the previous report, per table. */
  tableDeltas: TableChangeCounts[];
  /** Source transactions applied since the previous report. */
  transactions: number;
  at: number;
}

/** What the stream activity asks its workflow every moment. */
export interface StreamControl {
  /** Stop once everything up to this position (the cutover marker) is applied. */
  stopAtLsn?: string;
  /** Hold still: read and apply nothing (changes wait in the source's slot) until resumed. */
  paused?: boolean;
}

/** Operations to replicate, per table (`schema.table` display names) and by default. */
export interface OperationsConfig {
  operations: Operation[];
  tables: Record<string, { operations: Operation[] }>;
}

/** The spec's `incremental` section. */
export interface IncrementalConfig extends OperationsConfig {
  historyBudget: number;
}

/** The stream's progress, as the `progress` query of the stream workflow returns it. */
export interface StreamProgress {
  state: 'starting' | 'streaming' | 'paused' | 'stopping' | 'stopped';
  appliedLsn?: string;
  sourceLsn?: string;
  lagBytes: number;
  lagSeconds: number;
  changesPerSecond: number;
  totalChanges: number;
  transactions: number;
  tables: TableChangeCounts[];
  stopAtLsn?: string;
  updatedAt?: number;
}
