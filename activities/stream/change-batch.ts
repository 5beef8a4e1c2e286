/**
 * Turns decoded row changes of many source transactions into few, fast statements on the
 * target: the apply half of the change stream.
 *
 * Why netting is safe: a batch is applied inside ONE target transaction (with
 * session_replication_role = replica, so foreign keys and user triggers do not fire, as in
 * PostgreSQL's own apply worker), and only that transaction's final state is ever visible.
 * So only each row's final state matters, order across tables does not, and per row (key)
 * order is kept by netting all changes of a key into one. Between truncate barriers (a
 * "segment"), tables with a key become: one DELETE of every deleted key, one upsert of every
 * full row, one UPDATE per set of columns present for rows known only partially (an update
 * whose unchanged TOASTed values were not sent: those columns are never written, so a large
 * value stays as the target has it and is never replaced by NULL).
 *
 * Netting can reorder rows against other unique or exclusion constraints than the key (two
 * rows swapping a unique value through a temporary one). If the netted statements hit such a
 * violation, they are rolled back to a savepoint and the batch is replayed change by change in
 * source order, as the apply worker would: slower, never wrong.
 *
 * Tables without a key (REPLICA IDENTITY FULL) may hold exact duplicate rows, so their
 * changes keep their order and each update or delete changes exactly one matching row, as
 * the apply worker does; consecutive inserts still go as one statement.
 *
 * Values are bound as one array per column (column-array.ts): integers as integers, parsed
 * exactly from their text; everything else stays PostgreSQL text (pgoutput's form), cast in SQL
 * to the target's column types: JS numbers or dates would lose precision. Error messages name tables and counts, never row values: they end up
 * in logs and Temporal history.
 */
import type { Client, QueryResult } from 'pg';
import { tableKey } from '../../common/plan';
import type { TableChangeCounts } from '../../common/stream';
import { qualified } from '../db';
import { UNCHANGED_TOAST, type DeleteMessage, type InsertMessage, type TupleValue, type UpdateMessage } from './pgoutput-types';
import type { BinaryArrayBuilder } from './binary-array';
import { columnArray, columnArrayBuilder, wireFormOf } from './column-array';
import { RawRowChange } from './raw-row-change';
import { allInOrder } from './queued-queries';
import { tableSql, updatable, type ApplyTable, type KeyOrder, type MatchCode } from './target-table';

export type RowChange = InsertMessage | UpdateMessage | DeleteMessage;

/** One statement of a batch's plan, ready to run. */
export interface PlannedStatement {
  /** The quoted table name(s), for messages. */
  table: string;
  what: 'delete' | 'upsert' | 'insert' | 'update' | 'truncate';
  text: string;
  values: unknown[];
  /** Rows the statement carries. */
  rows: number;
  /** Fewer affected rows than this means the target diverged: rows to change are missing. */
  mustAffect?: number;
}

/**
 * A row's key: the text values of the key columns in keyColumns order, or for a one-column key
 * the value itself (no array per change: a batch holds thousands through many collections).
 */
type Key = string | string[];

/**
 * A row as the batch holds it: its values, or, for a complete row of an insert or update, the
 * bytes pgoutput sent (raw-row-change.ts: far less for the collector to copy while it waits).
 */
type Row = TupleValue[] | RawRowChange;

/** The net effect of a segment's changes on one key. */
interface KeyState {
  key: Key;
  /** The row the key had before (in the target) must go first: a delete was seen. */
  deleted: boolean;
  /** The row to write: every column when `full`, else UNCHANGED_TOAST where not sent. */
  row?: Row;
  full: boolean;
}

type KeylessChange =
  | { kind: 'insert'; rows: Row[] }
  | { kind: 'delete'; old: TupleValue[] }
  | { kind: 'update'; old: TupleValue[]; row: TupleValue[] };

/** Changes between two barriers: netted per key, or in order for tables without a key. */
class Segment {
  readonly keyed = new Map<ApplyTable, Map<string, KeyState>>();
  readonly keyless = new Map<ApplyTable, KeylessChange[]>();
}

/** Applied at its place in the order: everything before it first, everything after, after. */
type Barrier =
  | { kind: 'truncate'; tables: ApplyTable[]; restartIdentity: boolean }
  /** A key change known only partially, with no full row to merge it into: not nettable. */
  | { kind: 'key-change'; table: ApplyTable; oldKey: Key; row: TupleValue[] };

/** A truncate as it came, for the in-order replay. */
type LoggedTruncate = { tables: ApplyTable[]; restartIdentity: boolean };

const COUNTER = { insert: 'inserts', update: 'updates', delete: 'deletes' } as const;

/**
 * unique_violation, exclusion_violation, and (defensively) cardinality_violation: an upsert
 * meeting one row twice, which keys whose texts differ but compare equal could cause.
 */
const NETTING_CONFLICTS = new Set(['23505', '23P01', '21000']);
const SAVEPOINT = 'pgferry_apply_batch';

export class ChangeBatch {
  private steps: Array<Segment | Barrier> = [];
  private current: Segment | undefined;
  /**
   * The changes as they came, for the in-order replay: `log[i]` is a truncate or a change of
   * `logTables[i]`. Two arrays rather than an object per change: a batch keeps up to 20,000
   * changes through many young-generation collections, and every object it holds is copied.
   */
  private log: Array<RowChange | LoggedTruncate> = [];
  private logTables: Array<ApplyTable | undefined> = [];
  private held = 0;
  private skippedChanges = 0;
  private tallies = new Map<ApplyTable, TableChangeCounts>();
  /** Counts describe the batch last applied until the next change starts a new one. */
  private countsApplied = false;

  /** Changes held (truncates count once per table). */
  get size(): number {
    return this.held;
  }

  get isEmpty(): boolean {
    return this.held === 0;
  }

  /** Changes left out because their table does not replicate that operation. */
  get skipped(): number {
    return this.skippedChanges;
  }

  add(table: ApplyTable, change: RowChange): void {
    this.startIfApplied();
    if (!table.operations.has(change.tag)) {
      this.skippedChanges += 1;
      return;
    }
    if (table.keyColumns.length === 0) this.addKeyless(table, change);
    else if (change instanceof RawRowChange && change.complete) this.writeRow(table, checkedRaw(table, change), rawKey(table, change));
    else if (change.tag === 'insert') this.writeRow(table, checked(table, change.newTuple));
    else if (change.tag === 'update') this.update(table, change);
    else this.delete(table, checked(table, change.oldTuple));
    this.tally(table)[COUNTER[change.tag]] += 1;
    this.log.push(change);
    this.logTables.push(table);
    this.held += 1;
  }

  /** TRUNCATE ONLY of the tables, as an ordering barrier. */
  truncate(tables: ApplyTable[], restartIdentity: boolean): void {
    this.startIfApplied();
    const kept = tables.filter((t) => t.operations.has('truncate'));
    this.skippedChanges += tables.length - kept.length;
    if (kept.length === 0) return;
    for (const t of kept) this.tally(t).truncates += 1;
    this.held += kept.length;
    this.log.push({ tables: kept, restartIdentity });
    this.logTables.push(undefined);
    this.barrier({ kind: 'truncate', tables: kept, restartIdentity });
  }

  /** Per table, the changes of this batch (after apply: the ones it applied). */
  counts(): TableChangeCounts[] {
    const byName = new Map<string, TableChangeCounts>();
    for (const c of this.tallies.values()) {
      const key = tableKey(c);
      const sum = byName.get(key);
      if (!sum) byName.set(key, { ...c });
      else {
        sum.inserts += c.inserts;
        sum.updates += c.updates;
        sum.deletes += c.deletes;
        sum.truncates += c.truncates;
      }
    }
    return [...byName.values()];
  }

  /**
   * Runs the batch on the client, inside the caller's transaction (no BEGIN/COMMIT here), and
   * leaves the batch empty. If a statement fails, the batch is kept (the caller rolls back).
   */
  async apply(client: Pick<Client, 'query'>): Promise<void> {
    const plan = this.plan();
    if (this.log.length === 1) {
      await allInOrder(plan.map((statement) => execute(client, statement))); // nothing to net
    } else if (plan.length > 0) {
      // Queued together: the target runs them back to back (queued-queries.ts).
      const savepoint = client.query(`SAVEPOINT ${SAVEPOINT}`);
      const statements = plan.map((statement) => execute(client, statement));
      const release = client.query(`RELEASE SAVEPOINT ${SAVEPOINT}`);
      try {
        await allInOrder([savepoint, ...statements, release]);
      } catch (err) {
        if (!NETTING_CONFLICTS.has((err as { code?: string }).code ?? '')) throw err;
        await client.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
        await this.replayInOrder(client);
        await client.query(`RELEASE SAVEPOINT ${SAVEPOINT}`);
      }
    }
    this.steps = [];
    this.current = undefined;
    this.log = [];
    this.logTables = [];
    this.held = 0;
    this.countsApplied = true;
  }

  /** Forgets everything, counts included. */
  clear(): void {
    this.steps = [];
    this.current = undefined;
    this.log = [];
    this.logTables = [];
    this.held = 0;
    this.skippedChanges = 0;
    this.tallies.clear();
    this.countsApplied = false;
  }

  /** The statements apply() runs, in order. */
  plan(): PlannedStatement[] {
    const out: PlannedStatement[] = [];
    for (const step of this.steps) {
      if (step instanceof Segment) {
        for (const [table, states] of step.keyed) planKeyed(table, states, out);
        for (const [table, changes] of step.keyless) planKeyless(table, changes, out);
      } else if (step.kind === 'truncate') {
        out.push(truncateStatement(step.tables, step.restartIdentity));
      } else {
        out.push(keyChangeStatement(step.table, step.oldKey, step.row));
      }
    }
    return out;
  }

  /** Each change on its own, in source order: every state in between existed on the source. */
  private async replayInOrder(client: Pick<Client, 'query'>): Promise<void> {
    for (let i = 0; i < this.log.length; i += 1) {
      const logged = this.log[i];
      const single = new ChangeBatch();
      if ('tag' in logged) single.add(this.logTables[i]!, logged);
      else single.truncate(logged.tables, logged.restartIdentity);
      for (const statement of single.plan()) await execute(client, statement);
    }
  }

  private update(table: ApplyTable, change: UpdateMessage): void {
    const old = change.oldTuple ? checked(table, change.oldTuple) : undefined;
    const newKey = keyValues(table, checked(table, change.newTuple), old);
    const row = withKey(table, change.newTuple, newKey);
    if (!old) return this.writeRow(table, row, newKey);
    const oldKey = keyValues(table, old);
    if (keyString(oldKey) === keyString(newKey)) return this.writeRow(table, row, newKey);
    this.changeKey(table, oldKey, newKey, row);
  }

  /** A key change: a delete of the old key plus the new row, when the new row is known whole. */
  private changeKey(table: ApplyTable, oldKey: Key, newKey: Key, row: TupleValue[]): void {
    const states = this.keyedStates(table);
    const oldKeyString = keyString(oldKey);
    const before = states.get(oldKeyString);
    let whole: TupleValue[] | undefined;
    if (isComplete(row)) whole = row;
    else if (before?.row && before.full) whole = overlay(rowValues(before.row), row);
    if (!whole) {
      this.barrier({ kind: 'key-change', table, oldKey, row });
      return;
    }
    touch(states, oldKeyString, { key: oldKey, deleted: true, full: false });
    const newKeyString = keyString(newKey);
    touch(states, newKeyString, { key: newKey, deleted: states.get(newKeyString)?.deleted ?? false, row: whole, full: true });
  }

  /** An insert or an update that keeps its key, merged with what the batch has for the key. */
  private writeRow(table: ApplyTable, row: Row, key = keyValues(table, rowValues(row))): void {
    const states = this.keyedStates(table);
    const k = keyString(key);
    const before = states.get(k);
    const deleted = before?.deleted ?? false;
    if (isComplete(row)) touch(states, k, { key, deleted, row, full: true }, before !== undefined);
    else if (before?.row) touch(states, k, { key, deleted, row: overlay(rowValues(before.row), rowValues(row)), full: before.full });
    else touch(states, k, { key, deleted, row, full: false });
  }

  private delete(table: ApplyTable, old: TupleValue[]): void {
    const key = keyValues(table, old);
    touch(this.keyedStates(table), keyString(key), { key, deleted: true, full: false });
  }

  private addKeyless(table: ApplyTable, change: RowChange): void {
    const segment = this.segment();
    let changes = segment.keyless.get(table);
    if (!changes) {
      changes = [];
      segment.keyless.set(table, changes);
    }
    if (change.tag === 'insert') {
      const row = change instanceof RawRowChange && change.complete ? checkedRaw(table, change) : checked(table, change.newTuple);
      const last = changes[changes.length - 1];
      if (last?.kind === 'insert') last.rows.push(row);
      else changes.push({ kind: 'insert', rows: [row] });
    } else if (change.tag === 'delete') {
      changes.push({ kind: 'delete', old: checked(table, change.oldTuple) });
    } else {
      if (!change.oldTuple) throw new Error(`an update of ${qualified(table)} carries no old row and the table has no key: it needs REPLICA IDENTITY FULL on the source`);
      changes.push({ kind: 'update', old: checked(table, change.oldTuple), row: checked(table, change.newTuple) });
    }
  }

  private keyedStates(table: ApplyTable): Map<string, KeyState> {
    const segment = this.segment();
    let states = segment.keyed.get(table);
    if (!states) {
      states = new Map();
      segment.keyed.set(table, states);
    }
    return states;
  }

  private segment(): Segment {
    if (!this.current) {
      this.current = new Segment();
      this.steps.push(this.current);
    }
    return this.current;
  }

  private barrier(step: Barrier): void {
    this.steps.push(step);
    this.current = undefined;
  }

  private tally(table: ApplyTable): TableChangeCounts {
    let counts = this.tallies.get(table);
    if (!counts) {
      counts = { schema: table.schema, name: table.name, inserts: 0, updates: 0, deletes: 0, truncates: 0 };
      this.tallies.set(table, counts);
    }
    return counts;
  }

  private startIfApplied(): void {
    if (!this.countsApplied) return;
    this.tallies.clear();
    this.skippedChanges = 0;
    this.countsApplied = false;
  }
}

/** Stores a key's state last, so rows are written in the order their final states arose. */
function touch(states: Map<string, KeyState>, k: string, state: KeyState, known = true): void {
  if (known) states.delete(k);
  states.set(k, state);
}

function checked(table: ApplyTable, tuple: TupleValue[]): TupleValue[] {
  checkColumnCount(table, tuple.length);
  return tuple;
}

function checkedRaw(table: ApplyTable, change: RawRowChange): RawRowChange {
  checkColumnCount(table, change.columnCount);
  return change;
}

function checkColumnCount(table: ApplyTable, count: number): void {
  if (count !== table.columns.length) {
    throw new Error(`a change of ${qualified(table)} has ${count} columns where the target table has ${table.columns.length}: the table's columns differ between source and target`);
  }
}

/** The key of a complete row kept as bytes. */
function rawKey(table: ApplyTable, row: RawRowChange): Key {
  const columns = table.keyColumns;
  const part = (c: number): string => {
    const value = row.value(c);
    if (typeof value !== 'string') throw new Error(`a change of ${qualified(table)} has no value for key column ${table.columns[c].name}`);
    return value;
  };
  return columns.length === 1 ? part(columns[0]) : columns.map(part);
}

/** A row's values (a row kept as bytes is decoded: rare paths only, partial rows merged into it). */
function rowValues(row: Row): TupleValue[] {
  return row instanceof RawRowChange ? row.newTuple : row;
}

/**
 * The key of a tuple. A key column pgoutput left out as unchanged TOAST in a new tuple is
 * taken from the old key tuple (sent whenever a key value is stored out of line).
 */
function keyValues(table: ApplyTable, tuple: TupleValue[], old?: TupleValue[]): Key {
  const columns = table.keyColumns;
  if (columns.length === 1) return keyValue(table, columns[0], tuple, old);
  return columns.map((c) => keyValue(table, c, tuple, old));
}

function keyValue(table: ApplyTable, column: number, tuple: TupleValue[], old?: TupleValue[]): string {
  const value = tuple[column] === UNCHANGED_TOAST && old ? old[column] : tuple[column];
  if (typeof value !== 'string') throw new Error(`a change of ${qualified(table)} has no value for key column ${table.columns[column].name}`);
  return value;
}

/** The value of the `j`th key column. */
function keyPart(key: Key, j: number): string {
  return typeof key === 'string' ? key : key[j];
}

/** Text cannot hold NUL, so joining with it cannot make two keys collide. */
function keyString(key: Key): string {
  return typeof key === 'string' ? key : key.join('\u0000');
}

/** The tuple with its key columns filled in (copied only when one was left out). */
function withKey(table: ApplyTable, tuple: TupleValue[], key: Key): TupleValue[] {
  if (!table.keyColumns.some((c) => tuple[c] === UNCHANGED_TOAST)) return tuple;
  const row = tuple.slice();
  table.keyColumns.forEach((c, j) => (row[c] = keyPart(key, j)));
  return row;
}

function isComplete(row: Row): boolean {
  return row instanceof RawRowChange ? row.complete : !row.includes(UNCHANGED_TOAST);
}

/** `base` with every value `over` carries; the values `over` left out stay as in `base`. */
function overlay(base: TupleValue[], over: TupleValue[]): TupleValue[] {
  const row = base.slice();
  for (let i = 0; i < over.length; i += 1) if (over[i] !== UNCHANGED_TOAST) row[i] = over[i];
  return row;
}

/**
 * One array parameter per column, in the column's wire form (column-array.ts): the shape the
 * unnest statements take. Rows kept as bytes have their values copied (or, integers, parsed)
 * straight into the arrays.
 */
function byColumn(table: ApplyTable, rows: Row[], columns: number[]): Buffer[] {
  if (!rows.some((row) => row instanceof RawRowChange)) {
    return columns.map((c) => {
      const values = new Array<string | null>(rows.length);
      for (let i = 0; i < rows.length; i += 1) values[i] = (rows[i] as TupleValue[])[c] as string | null;
      return columnArray(wireFormOf(table.columns[c]), values);
    });
  }
  const builders = new Array<BinaryArrayBuilder | undefined>(Math.max(0, ...columns) + 1);
  for (const c of columns) builders[c] = columnArrayBuilder(wireFormOf(table.columns[c]), rows.length);
  for (const row of rows) {
    if (row instanceof RawRowChange) row.appendTo(builders);
    else for (const c of columns) builders[c]!.add(row[c] as string | null);
  }
  return columns.map((c) => builders[c]!.finish());
}

/**
 * A statement with its parameters. A value the arrays refuse (column-array.ts: text not in the
 * form its type prints in) fails as the target's own refusal would: naming the statement and
 * the table, with an SQLSTATE, and not quoting the value.
 */
function withValues(statement: Omit<PlannedStatement, 'values'>, values: () => unknown[]): PlannedStatement {
  try {
    return { ...statement, values: values() };
  } catch (err) {
    throw applyError(statement, err);
  }
}

/** The key columns' parameters for these keys (DELETE, UPDATE). */
function keyArrays(table: ApplyTable, keys: Key[]): Buffer[] {
  return table.keyColumns.map((c, j) =>
    columnArray(
      wireFormOf(table.columns[c]),
      keys.map((key) => keyPart(key, j)),
    ),
  );
}

/** Columns an UPDATE sets: the ones sent, minus identity columns that only take DEFAULT. */
function setColumns(table: ApplyTable, row: TupleValue[], withKeys: boolean): number[] {
  const set: number[] = [];
  for (let i = 0; i < row.length; i += 1) {
    if (row[i] !== UNCHANGED_TOAST && updatable(table.columns[i]) && (withKeys || !table.keyColumns.includes(i))) set.push(i);
  }
  return set;
}

function planKeyed(table: ApplyTable, states: Map<string, KeyState>, out: PlannedStatement[]): void {
  const sql = tableSql(table);
  const deleted: Key[] = [];
  const full: KeyState[] = [];
  const partial = new Map<string, { set: number[]; states: KeyState[] }>();
  for (const state of states.values()) {
    if (state.deleted) deleted.push(state.key);
    if (!state.row) continue;
    if (state.full) {
      full.push(state);
      continue;
    }
    const set = setColumns(table, rowValues(state.row), false);
    if (set.length === 0) continue; // nothing sent but the key: nothing to write
    const shape = set.join(',');
    const group = partial.get(shape);
    if (group) group.states.push(state);
    else partial.set(shape, { set, states: [state] });
  }
  const target = sql.target;
  if (deleted.length > 0) out.push(withValues({ table: target, what: 'delete', text: sql.deleteKeys(), rows: deleted.length }, () => keyArrays(table, deleted)));
  if (full.length > 0) {
    const all = table.columns.map((_, i) => i);
    const rows = (table.keyOrder ? inKeyOrder(full, table.keyOrder) : full).map((s) => s.row!);
    out.push(withValues({ table: target, what: 'upsert', text: sql.insertRows(), rows: rows.length }, () => byColumn(table, rows, all)));
  }
  for (const { set, states: group } of partial.values()) {
    const values = () => [...keyArrays(table, group.map((s) => s.key)), ...byColumn(table, group.map((s) => rowValues(s.row!)), set)];
    out.push(withValues({ table: target, what: 'update', text: sql.updateRows(set), rows: group.length, mustAffect: group.length }, values));
  }
}

/**
 * Full rows of a one-column key, sorted by it (ApplyTable.keyOrder): the upsert then finds the
 * target's index and heap pages in order. Numbers are parsed once, not per comparison.
 */
function inKeyOrder(states: KeyState[], order: KeyOrder): KeyState[] {
  if (order === 'text') return states.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const keys = states.map((s) => Number(s.key));
  return keys
    .map((_, i) => i)
    .sort((a, b) => keys[a] - keys[b])
    .map((i) => states[i]);
}

function keyChangeStatement(table: ApplyTable, oldKey: Key, row: TupleValue[]): PlannedStatement {
  const sql = tableSql(table);
  const set = setColumns(table, row, true);
  const values = () => [...keyArrays(table, [oldKey]), ...byColumn(table, [row], set)];
  return withValues({ table: sql.target, what: 'update', text: sql.updateRows(set), rows: 1, mustAffect: 1 }, values);
}

function planKeyless(table: ApplyTable, changes: KeylessChange[], out: PlannedStatement[]): void {
  const sql = tableSql(table);
  const target = sql.target;
  for (const change of changes) {
    if (change.kind === 'insert') {
      const all = table.columns.map((_, i) => i);
      out.push(withValues({ table: target, what: 'insert', text: sql.insertRows(), rows: change.rows.length }, () => byColumn(table, change.rows, all)));
      continue;
    }
    const { match, values } = matchRow(table, change.old);
    if (change.kind === 'delete') {
      out.push({ table: target, what: 'delete', text: sql.deleteOne(match), values, rows: 1, mustAffect: 1 });
      continue;
    }
    const set = setColumns(table, change.row, true);
    if (set.length === 0) continue;
    for (const c of set) values.push(change.row[c]);
    out.push({ table: target, what: 'update', text: sql.updateOne(match, set), values, rows: 1, mustAffect: 1 });
  }
}

/** How to find the old row: every column sent, by `=` where the type has it, else as text. */
function matchRow(table: ApplyTable, old: TupleValue[]): { match: MatchCode[]; values: unknown[] } {
  const match = new Array<MatchCode>(old.length);
  const values: unknown[] = [];
  for (let i = 0; i < old.length; i += 1) {
    const value = old[i];
    if (value === UNCHANGED_TOAST) match[i] = 's';
    else if (value === null) match[i] = 'n';
    else {
      match[i] = table.columns[i].equality ? 'e' : 'x';
      values.push(value);
    }
  }
  return { match, values };
}

function truncateStatement(tables: ApplyTable[], restartIdentity: boolean): PlannedStatement {
  // ONLY: pgoutput lists every table the source truncated (children included); a partitioned
  // table refuses ONLY and is truncated whole, as the source did.
  const names = tables.map((t) => `${t.partitioned ? '' : 'ONLY '}${qualified(t)}`);
  const text = `TRUNCATE ${names.join(', ')}${restartIdentity ? ' RESTART IDENTITY' : ''}`;
  return { table: tables.map((t) => qualified(t)).join(', '), what: 'truncate', text, values: [], rows: 0 };
}

/**
 * Statement names, global so that one text always has one name on any connection: the target
 * parses and plans each statement shape once per connection instead of once per batch.
 */
const statementNames = new Map<string, string>();
const MAX_NAMED_STATEMENTS = 2_000;

function statementName(text: string): string | undefined {
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < MAX_NAMED_STATEMENTS) {
    name = `pgferry_apply_${statementNames.size + 1}`;
    statementNames.set(text, name);
  }
  return name;
}

async function execute(client: Pick<Client, 'query'>, statement: PlannedStatement): Promise<void> {
  let result: QueryResult;
  try {
    const { text, values } = statement;
    result = await client.query({ text, values, name: values.length > 0 ? statementName(text) : undefined });
  } catch (err) {
    throw applyError(statement, err);
  }
  const affected = result.rowCount ?? 0;
  if (statement.mustAffect !== undefined && affected < statement.mustAffect) {
    const missing = statement.mustAffect - affected;
    throw new Error(
      `the target diverged from the source: ${missing} of ${statement.mustAffect} row(s) to ${statement.what} in ${statement.table} ${missing === 1 ? 'was' : 'were'} not found`,
    );
  }
}

/**
 * Names the table and the statement, keeps the SQLSTATE (errors.ts classifies by it) and drops
 * PostgreSQL's DETAIL (it can hold a row). Data exceptions (class 22) quote the offending value
 * in the message itself, so the quoted part goes too.
 */
function applyError(statement: Pick<PlannedStatement, 'what' | 'table' | 'rows'>, err: unknown): Error {
  const e = (err ?? {}) as { message?: string; code?: string; column?: string; constraint?: string };
  let message = e.message ?? String(err);
  if (e.code?.startsWith('22')) message = message.replace(/"[\s\S]*"/, '"…"');
  const rows = statement.what === 'truncate' ? '' : ` (${statement.rows} row(s))`;
  return Object.assign(new Error(`${statement.what} in ${statement.table}${rows} failed: ${message}`), { code: e.code, column: e.column, constraint: e.constraint });
}
