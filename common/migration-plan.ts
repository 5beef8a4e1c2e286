/**
 * `pgferry plan`: what a migration with a spec would do, read from the source before anything
 * starts: the objects it creates (target names, after selection and renames), each table's
 * size and row estimate, which tables are split into chunks, and how long the copy may take.
 * Pure types and arithmetic, shared by the activity that reads it and the CLI that prints it.
 */
import type { TableSplit } from './table-split';

export interface PlannedTable {
  /** Source name. */
  schema: string;
  name: string;
  /** Its name in the target (differs with renames). */
  target: { schema: string; name: string };
  /** On-disk size on the source (pg_table_size), what the copy and splitting go by. */
  bytes: number;
  /** pg_class.reltuples; undefined when the table was never analyzed or vacuumed. */
  rowEstimate?: number;
  /** Split into this many chunks (copy.splitLargerThan), and how. */
  chunks?: number;
  splitBy?: TableSplit['by'];
  splitColumn?: string;
  /** Only these columns (source names), when not all. */
  columns?: string[];
  where?: string;
  /** Already in the target (conflicts: ignore): rows are added, the table is not created. */
  preexisting?: boolean;
}

/** Objects pre-data and post-data create besides the tables, per target schema. */
export interface PlannedSchema {
  source: string;
  target: string;
  /** Selected as a whole (its views, functions, types... come along), or only some tables. */
  whole: boolean;
  /** The target has it already (objects go into it). */
  exists: boolean;
  tables: number;
  counts: Record<string, number>;
}

export type ThroughputSource = 'configured' | 'measured' | 'throttle';

export interface PlanEstimate {
  /** The copy's rate in MiB/s, for the whole migration. */
  mbPerSecond: number;
  source: ThroughputSource;
  /** How the rate was found, in words. */
  basis: string;
  /** Copy lanes the estimate assumes busy (parallelism.tables, at most the copy units). */
  lanes: number;
  /** Copy time of the table data alone (indexes, validation and the stream are not in it). */
  seconds: number;
}

export interface MigrationPlanPreview {
  types: string[];
  /** copy.splitLargerThan in bytes (0: never split). */
  splitLargerThan: number;
  schemas: PlannedSchema[];
  /** Biggest first; at most PLAN_TABLE_LIMIT of them (see omittedTables). */
  tables: PlannedTable[];
  omittedTables: number;
  totals: { tables: number; bytes: number; rows: number; splitTables: number; chunks: number; copyUnits: number };
  largeObjects?: { count: number; bytes: number };
  /** Absent when the types copy no data. */
  estimate?: PlanEstimate;
  /** One line per thing the plan could not tell (a rate that could not be measured...). */
  notes: string[];
}

/** Tables listed one by one; the rest are counted (a plan is a workflow result, kept small). */
export const PLAN_TABLE_LIMIT = 2_000;

/** Lanes busy at once: parallelism.tables, but no more than there are units to copy. */
export function busyLanes(parallelism: number, copyUnits: number): number {
  return Math.max(1, Math.min(parallelism, copyUnits));
}

/**
 * The copy's duration at a rate. A measured rate is one stream's (MiB/s), times the lanes; a
 * configured one or a throttle is the whole migration's. A throttle caps either.
 */
export function estimateCopy(bytes: number, rate: { mbPerSecond: number; perLane: boolean; source: ThroughputSource; basis: string }, lanes: number, throttleMbPerSecond?: number): PlanEstimate {
  let mbPerSecond = rate.perLane ? rate.mbPerSecond * lanes : rate.mbPerSecond;
  let { source, basis } = rate;
  if (throttleMbPerSecond !== undefined && throttleMbPerSecond < mbPerSecond) {
    mbPerSecond = throttleMbPerSecond;
    source = 'throttle';
    basis = `throttle.full.mbPerSecond of the spec (${throttleMbPerSecond} MB/s) caps the copy`;
  }
  const seconds = mbPerSecond > 0 ? bytes / (mbPerSecond * 1024 * 1024) : 0;
  return { mbPerSecond: Math.round(mbPerSecond * 100) / 100, source, basis, lanes, seconds: Math.round(seconds * 100) / 100 };
}
