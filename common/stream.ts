/**
 * What the change stream reports and obeys: small facts that travel through Temporal (LSNs as
 * PostgreSQL's `X/Y` text, counters), never row data.
 */
import { tableKey } from './plan';
import type { Operation } from './spec';
import type { RateLimit } from './throttle';
import type { StreamOutlook } from './stream-outlook';
import type { DdlProgress, DdlRecord } from './ddl';

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
  /** DDL statements committed on the target since the previous report (incremental.ddl: replicate). */
  ddl?: DdlRecord[];
}

/** What the stream activity asks its workflow every moment. */
export interface StreamControl {
  /** Stop once everything up to this position (the cutover marker) is applied. */
  stopAtLsn?: string;
  /** Hold still: read and apply nothing (changes wait in the source's slot) until resumed. */
  paused?: boolean;
  /** The migration's `throttle.incremental`: changes applied per second, pgoutput bytes decoded per second. */
  limit?: RateLimit;
}

/** Operations to replicate, per table (`schema.table` display names) and by default. */
export interface OperationsConfig {
  operations: Operation[];
  tables: Record<string, { operations: Operation[] }>;
}

/** The spec's `incremental` section. */
export interface IncrementalConfig extends OperationsConfig {
  historyBudget: number;
  ddl?: 'replicate' | 'fail';
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
  /** Caught up or not, and the time left until it is (from the reports so far). */
  outlook?: StreamOutlook;
  /** DDL replicated from the source (absent: none yet). */
  ddl?: DdlProgress;
}

/** All row changes (and truncates) in a count. */
export function changeCount(c: TableChangeCounts): number {
  return c.inserts + c.updates + c.deletes + c.truncates;
}

/** Per-table change counts summed as they come (by the stream activity and its workflow). */
export class CountTotals {
  private readonly byTable = new Map<string, TableChangeCounts>();

  constructor(initial: Iterable<TableChangeCounts> = []) {
    this.add(initial);
  }

  add(counts: Iterable<TableChangeCounts>): void {
    for (const c of counts) {
      const key = tableKey(c);
      const t = this.byTable.get(key) ?? { schema: c.schema, name: c.name, inserts: 0, updates: 0, deletes: 0, truncates: 0 };
      t.inserts += c.inserts;
      t.updates += c.updates;
      t.deletes += c.deletes;
      t.truncates += c.truncates;
      this.byTable.set(key, t);
    }
  }

  list(): TableChangeCounts[] {
    return [...this.byTable.values()];
  }

  /** The totals so far, and start again from zero. */
  take(): TableChangeCounts[] {
    const out = this.list();
    this.byTable.clear();
    return out;
  }
}
