/**
 * Applies a sync plan (common/sync-plan.ts) to the decoded stream: a change of a table read
 * under a later snapshot than the stream's start is dropped when its transaction committed
 * before that snapshot (the copy has it already), as PostgreSQL's apply worker skips a table's
 * changes up to its sync LSN.
 *
 * A split table whose key ranges were read at different positions is judged per row, by key.
 * An update that moves a row from one range to another is split in two when only one side is
 * due: the delete of the old key, or the insert of the new row. That insert needs the whole
 * row; pgoutput leaves out unchanged TOASTed values, and then the stream stops with an error
 * naming the table rather than write an incomplete row.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { FailureType } from '../../common/failure-types';
import { parseLsn } from '../../common/lsn';
import type { SyncPlan, SyncTable } from '../../common/sync-plan';
import type { RowChange } from './change-batch';
import { UNCHANGED_TOAST, type RelationMessage, type TupleValue } from './pgoutput-types';

/** One relation's rule: a position for the whole table, or per key range. */
type Gate = { lsn: bigint } | { keyIndex: number; ranges: Array<{ from?: bigint; to?: bigint; lsn: bigint }> };

export class SyncGates {
  private readonly defaultLsn: bigint;
  private readonly planned = new Map<string, SyncTable>();
  private readonly gates = new Map<number, { gate: Gate; table: string }>();
  /** Past this position every gate is open: nothing is filtered any more. */
  private readonly lastLsn: bigint;

  constructor(private readonly plan: SyncPlan | undefined) {
    this.defaultLsn = plan ? parseLsn(plan.defaultLsn) : 0n;
    let last = this.defaultLsn;
    for (const t of plan?.tables ?? []) {
      this.planned.set(JSON.stringify([t.schema, t.name]), t);
      for (const lsn of [t.lsn, ...(t.ranges ?? []).map((r) => r.lsn)]) if (lsn !== undefined && parseLsn(lsn) > last) last = parseLsn(lsn);
    }
    this.lastLsn = last;
  }

  /** Learns a relation's gate from its Relation message (the key column's position). */
  learn(relation: RelationMessage): void {
    if (!this.plan) return;
    const table = `${relation.schema}.${relation.name}`;
    const planned = this.planned.get(JSON.stringify([relation.schema, relation.name]));
    if (!planned) return void this.gates.set(relation.relationId, { gate: { lsn: this.defaultLsn }, table });
    if (!planned.ranges) return void this.gates.set(relation.relationId, { gate: { lsn: parseLsn(planned.lsn!) }, table });
    const keyIndex = relation.columns.findIndex((c) => c.name === planned.column);
    if (keyIndex < 0) throw new Error(`the stream cannot find column ${planned.column} of ${table}, whose key ranges were copied under different snapshots`);
    const ranges = planned.ranges.map((r) => ({
      ...(r.from !== undefined ? { from: BigInt(r.from) } : {}),
      ...(r.to !== undefined ? { to: BigInt(r.to) } : {}),
      lsn: parseLsn(r.lsn),
    }));
    this.gates.set(relation.relationId, { gate: { keyIndex, ranges }, table });
  }

  /**
   * The change to apply for a transaction committed at `finalLsn`: the change itself, part of
   * it (a row moved between ranges), or undefined when the copy already holds it.
   */
  admit(change: RowChange, finalLsn: bigint): RowChange | undefined {
    if (!this.plan || finalLsn >= this.lastLsn) return change;
    const known = this.gates.get(change.relationId);
    if (!known) return change;
    const { gate, table } = known;
    if ('lsn' in gate) return finalLsn >= gate.lsn ? change : undefined;
    const due = (tuple: TupleValue[]) => finalLsn >= rangeLsn(gate, tuple, table);
    if (change.tag === 'insert') return due(change.newTuple) ? change : undefined;
    if (change.tag === 'delete') return due(change.oldTuple) ? change : undefined;
    const oldDue = due(change.oldTuple ?? change.newTuple);
    const newDue = due(change.newTuple);
    if (oldDue && newDue) return change;
    if (oldDue) return { tag: 'delete', relationId: change.relationId, oldKind: change.oldKind ?? 'key', oldTuple: change.oldTuple! };
    if (!newDue) return undefined;
    if (change.newTuple.includes(UNCHANGED_TOAST)) {
      throw ApplicationFailure.nonRetryable(
        `a row of ${table} moved between key ranges copied under different snapshots, and the source did not send its unchanged TOASTed values: the target cannot be made exact from the stream; start the migration again`,
        FailureType.StreamInexact,
      );
    }
    return { tag: 'insert', relationId: change.relationId, newTuple: change.newTuple };
  }

  /** A truncate of a table whose parts were read at different positions, between them, cannot be replayed exactly. */
  admitTruncate(relationIds: number[], finalLsn: bigint): number[] {
    if (!this.plan || finalLsn >= this.lastLsn) return relationIds;
    return relationIds.filter((id) => {
      const known = this.gates.get(id);
      if (!known) return true;
      if ('lsn' in known.gate) return finalLsn >= known.gate.lsn;
      const due = known.gate.ranges.filter((r) => finalLsn >= r.lsn).length;
      if (due === 0) return false;
      if (due === known.gate.ranges.length) return true;
      throw ApplicationFailure.nonRetryable(
        `${known.table} was truncated on the source while its key ranges were being copied under different snapshots: the target cannot be made exact from the stream; start the migration again`,
        FailureType.StreamInexact,
      );
    });
  }
}

function rangeLsn(gate: Extract<Gate, { keyIndex: number }>, tuple: TupleValue[], table: string): bigint {
  const value = tuple[gate.keyIndex];
  if (typeof value !== 'string') throw new Error(`a change of ${table} carries no value for its split key`);
  const key = BigInt(value);
  const range = gate.ranges.find((r) => (r.from === undefined || key >= r.from) && (r.to === undefined || key < r.to));
  if (!range) throw new Error(`a key of ${table} falls in none of the ranges its chunks covered`);
  return range.lsn;
}
