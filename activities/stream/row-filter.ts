/**
 * Row filters (objects.tables.<t>.where) in the change stream. The target must always equal
 * `SELECT ... WHERE <condition>` on the source, so each change is judged on the row before and
 * the row after it:
 *
 *   insert  new matches → insert                 update  both match     → update
 *   delete  old matched → delete                         only old       → delete (left the filter)
 *                                                        only new       → insert (entered it)
 *                                                        neither        → nothing
 *
 * The condition is SQL, so the source server evaluates it, on the values pgoutput sent (cast
 * to the source column types), for all changes of a table at once: one round trip per table
 * per batch. The old row is complete under REPLICA IDENTITY FULL; with a key identity, the
 * precheck made sure the condition reads only key columns, which the change always carries.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Client } from 'pg';
import { displayName } from '../../common/plan';
import { FailureType } from '../../common/failure-types';
import { quoteIdent } from '../db';
import type { RowChange } from './change-batch';
import { UNCHANGED_TOAST, type TupleValue } from './pgoutput-types';
import type { ApplyTable } from './target-table';

/** What evaluating a table's filter needs: the source's column names and types, in pgoutput's order. */
export interface RowFilterSpec {
  where: string;
  /** The source table (its name qualifies columns in conditions like `orders.kind = 'x'`). */
  source: { schema: string; name: string };
  columns: string[];
  /** format_type of each source column. */
  types: string[];
  /** Indexes of the replica identity key columns (empty under REPLICA IDENTITY FULL). */
  keyColumns: number[];
}

interface Pending {
  table: ApplyTable;
  filter: RowFilterSpec;
  change: RowChange;
}

export class FilteredChanges {
  private pending: Pending[] = [];

  get size(): number {
    return this.pending.length;
  }

  add(table: ApplyTable, filter: RowFilterSpec, change: RowChange): void {
    this.pending.push({ table, filter, change });
  }

  /** Judges every held change and hands the ones to apply (maybe turned into others) to `apply`, in order per table. */
  async flush(source: Client, apply: (table: ApplyTable, change: RowChange) => void): Promise<void> {
    if (!this.pending.length) return;
    const byTable = new Map<ApplyTable, Pending[]>();
    for (const p of this.pending) {
      const list = byTable.get(p.table);
      if (list) list.push(p);
      else byTable.set(p.table, [p]);
    }
    this.pending = [];
    for (const [table, changes] of byTable) {
      const filter = changes[0].filter;
      const rows: TupleValue[][] = [];
      const slots = changes.map(({ change }) => {
        const slot: { old?: number; new?: number } = {};
        if (change.tag !== 'insert') slot.old = rows.push(oldRow(filter, change)) - 1;
        if (change.tag !== 'delete') slot.new = rows.push(filledNewRow(change)) - 1;
        return slot;
      });
      const matches = await evaluate(source, filter, rows);
      changes.forEach(({ change }, i) => {
        const judged = judge(change, slots[i].old !== undefined && matches.has(slots[i].old!), slots[i].new !== undefined && matches.has(slots[i].new!), filter, table);
        if (judged) apply(table, judged);
      });
    }
  }
}

/** The row before the change, as complete as the change tells it. */
function oldRow(filter: RowFilterSpec, change: Exclude<RowChange, { tag: 'insert' }>): TupleValue[] {
  if (change.oldTuple && change.oldKind === 'old') return change.oldTuple;
  // Key identity: the key columns (from the old key, or unchanged in the new row) are what the filter reads.
  return change.oldTuple ?? keyOnlyRow(filter, change.tag === 'update' ? change.newTuple : []);
}

/** A row of only the key columns' values (others null), as pgoutput's `K` old tuple has it. */
function keyOnlyRow(filter: RowFilterSpec, tuple: TupleValue[]): TupleValue[] {
  return filter.columns.map((_, i) => (filter.keyColumns.includes(i) ? (tuple[i] ?? null) : null));
}

/** The new row with unchanged TOASTed values taken from a complete old row. */
function filledNewRow(change: Exclude<RowChange, { tag: 'delete' }>): TupleValue[] {
  if (change.tag !== 'update' || change.oldKind !== 'old' || !change.oldTuple) return change.newTuple;
  const old = change.oldTuple;
  return change.newTuple.map((v, i) => (v === UNCHANGED_TOAST ? old[i] : v));
}

export function judge(change: RowChange, oldMatches: boolean, newMatches: boolean, filter: RowFilterSpec, table: ApplyTable): RowChange | undefined {
  if (change.tag === 'insert') return newMatches ? change : undefined;
  if (change.tag === 'delete') return oldMatches ? change : undefined;
  if (oldMatches && newMatches) return change;
  if (oldMatches) {
    const oldTuple = change.oldTuple ?? keyOnlyRow(filter, change.newTuple);
    return { tag: 'delete', relationId: change.relationId, oldKind: change.oldKind ?? 'key', oldTuple };
  }
  if (newMatches) {
    const row = filledNewRow(change);
    if (row.includes(UNCHANGED_TOAST)) {
      throw ApplicationFailure.nonRetryable(
        `a row of ${displayName(filter.source)} entered the row filter of ${displayName(table)} through an update that did not carry its unchanged TOASTed values; run ALTER TABLE ${displayName(filter.source)} REPLICA IDENTITY FULL on the source and restart the migration`,
        FailureType.RowFilterIncomplete,
      );
    }
    return { tag: 'insert', relationId: change.relationId, newTuple: row };
  }
  return undefined;
}

/** Which rows match: one query on the source, values bound as one text[] per column. */
async function evaluate(source: Client, filter: RowFilterSpec, rows: TupleValue[][]): Promise<Set<number>> {
  const n = filter.columns.length;
  const values = filter.columns.map((_, c) => rows.map((r) => (r[c] === UNCHANGED_TOAST ? null : (r[c] as string | null))));
  const aliases = filter.columns.map((_, c) => `c${c + 1}`);
  const casts = filter.columns.map((name, c) => `u.c${c + 1}::${filter.types[c]} AS ${quoteIdent(name)}`);
  const params = filter.columns.map((_, c) => `$${c + 1}::text[]`);
  const sql = `SELECT ${quoteIdent(ORDINAL)} FROM (SELECT u.${quoteIdent(ORDINAL)}${n ? ', ' : ''}${casts.join(', ')}
                 FROM unnest(${[...params, `$${n + 1}::int4[]`].join(', ')}) AS u(${[...aliases, quoteIdent(ORDINAL)].join(', ')})) AS ${quoteIdent(filter.source.name)}
                WHERE (${filter.where})`;
  const { rows: matched } = await source.query<Record<string, number>>(sql, [...values, rows.map((_, i) => i)]);
  return new Set(matched.map((m) => Number(m[ORDINAL])));
}

const ORDINAL = 'pgferry row#';
