/**
 * Where the change stream starts applying each table's changes, when the tables were read under
 * different snapshots (the snapshot holder was lost during the copy and work done under the old
 * snapshot was kept). Each snapshot came with a replication slot whose consistent point is the
 * snapshot's position: a transaction committed before it is in the snapshot, one committed at
 * or after it is not. So a table read under a snapshot takes exactly the changes of
 * transactions whose commit LSN is at or after that snapshot's consistent point — what
 * PostgreSQL's own table sync does with each table's sync LSN (tablesync.c), here per table or
 * per key range of a split table. The stream reads the slot of the earliest snapshot.
 *
 * Pure and deterministic: built by the migration workflow, read by the stream activity.
 */
import { parseLsn } from './lsn';

/** A key range of a split table (from <= key < to; an absent end is unbounded) and its position. */
export interface SyncRange {
  from?: string;
  to?: string;
  lsn: string;
}

/** A table whose changes start at another position than the plan's default. */
export interface SyncTable {
  /** Source names (pgoutput's Relation messages carry them). */
  schema: string;
  name: string;
  /** The whole table's position. */
  lsn?: string;
  /** A split table whose chunks were read under different snapshots: the integer key column and a position per range. */
  column?: string;
  ranges?: SyncRange[];
}

export interface SyncPlan {
  /** Tables not listed: changes committed at or after this position. */
  defaultLsn: string;
  tables: SyncTable[];
}

/** What was copied under which position: a whole table, or one key range of a split table. */
export interface SyncedPart {
  schema: string;
  name: string;
  lsn: string;
  range?: { column: string; from?: string; to?: string };
}

/**
 * The plan for parts read at possibly different positions; undefined when all share one (the
 * stream's start applies to everything). The most common position becomes the default, so the
 * plan lists only the exceptions.
 */
export function buildSyncPlan(parts: SyncedPart[]): SyncPlan | undefined {
  const positions = new Set(parts.map((p) => p.lsn));
  if (positions.size <= 1) return undefined;
  const defaultLsn = mostCommon(parts.map((p) => p.lsn));
  const byTable = new Map<string, SyncedPart[]>();
  for (const p of parts) {
    const key = JSON.stringify([p.schema, p.name]);
    byTable.set(key, [...(byTable.get(key) ?? []), p]);
  }
  const tables: SyncTable[] = [];
  for (const tableParts of byTable.values()) {
    const [first] = tableParts;
    const lsns = new Set(tableParts.map((p) => p.lsn));
    if (lsns.size === 1) {
      if (first.lsn !== defaultLsn) tables.push({ schema: first.schema, name: first.name, lsn: first.lsn });
      continue;
    }
    const ranged = tableParts.filter((p) => p.range);
    if (ranged.length !== tableParts.length) throw new Error(`${first.schema}.${first.name} was read under several snapshots but not in key ranges`);
    tables.push({
      schema: first.schema,
      name: first.name,
      column: ranged[0].range!.column,
      ranges: ranged.map((p) => ({ ...(p.range!.from !== undefined ? { from: p.range!.from } : {}), ...(p.range!.to !== undefined ? { to: p.range!.to } : {}), lsn: p.lsn })),
    });
  }
  return { defaultLsn, tables };
}

/** The earliest of the positions (where the stream must start). */
export function earliestLsn(lsns: string[]): string {
  return lsns.reduce((a, b) => (parseLsn(b) < parseLsn(a) ? b : a));
}

/** The plan without what the stream has passed: a position at or before `applied` filters nothing any more. */
export function remainingSyncPlan(plan: SyncPlan | undefined, applied: string | undefined): SyncPlan | undefined {
  if (!plan || applied === undefined) return plan;
  const done = parseLsn(applied);
  const open = (lsn: string) => parseLsn(lsn) > done;
  const anyOpen = open(plan.defaultLsn) || plan.tables.some((t) => (t.lsn !== undefined && open(t.lsn)) || t.ranges?.some((r) => open(r.lsn)));
  return anyOpen ? plan : undefined;
}

function mostCommon(values: string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || (parseLsn(a[0]) < parseLsn(b[0]) ? -1 : 1))[0][0];
}
