/**
 * Copies one unit of tables from source to target: binary COPY TO STDOUT piped into COPY FROM
 * STDIN through the worker, streaming, so memory stays bounded whatever the table size. Tables
 * this migration created also get their indexes and keys here (table-indexes.ts).
 *
 * A split table's chunk (common/table-split.ts) copies only its range of rows, without
 * truncating, FREEZE or index builds: its table is emptied before its chunks start when needed,
 * and finished (indexes, keys, ANALYZE) once they are all in (split-tables.ts).
 *
 * Idempotency lives in the target transaction: a unit is one transaction, so an attempt that
 * died wrote nothing at all. Tables that may hold rows already (created by someone else, or
 * copied under a lost snapshot) are truncated first, so a retry replaces, never duplicates; a
 * unit already committed under this snapshot is recorded (unit-marker.ts) and not redone.
 */
import { pipeline } from 'node:stream/promises';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { FailureType } from '../../common/failure-types';
import type { Client } from 'pg';
import { TABLE_PROGRESS_SIGNAL, type TableProgressUpdate } from '../../common/messages';
import { copyDestination, displayName, tableKey, type CopyUnit, type TableCopyResult, type TableRef } from '../../common/plan';
import { closeInBackground, closeQuietly, openClient, qualified, quoteIdent } from '../db';
import { beginUnderSnapshot } from '../snapshot-transaction';
import { resolveBoth, type ActivityDeps, type Endpoints } from '../deps';
import { guarded } from '../errors';
import { activityLifetime } from '../activity-lifetime';
import { agreedRowCounts, CopyInRelay, CopyOutRelay, type CopyFigures } from './copy-relay';
import { copyGroups, type Groupable } from './copy-groups';
import { readCopyColumns, type CopyColumns } from './columns';
import { existingIndexNames, readIndexStatements, type IndexStatement } from './table-indexes';
import { findUnitRecord, hasUnitRecords, lockUnit, recordUnit } from './unit-marker';
import { addForeignKeys, dropStatements as foreignKeyDrops, otherEnds, readForeignKeys, readyKeys, tablesIn, type ForeignKey } from './early-foreign-keys';
import { addTriggers, dropStatements as triggerDrops, readTriggers } from './early-triggers';
import { CopyControlPoller } from './copy-control';
import { CopyMetrics } from '../metrics';
import { throttledStream } from '../rate/throttled-stream';
import type { RateGate } from '../rate/rate-gate';
import { sourceChecksum } from '../validate/checksum';
import { buildWorkers, indexBuildSettings, type IndexBuild } from '../../common/index-build';
import type { ChunkRange } from '../../common/table-split';
import { workerIdentity } from '../worker-identity';
import { settleAll } from '../settle-all';

export interface CopyUnitInput extends Endpoints {
  unit: CopyUnit;
  snapshot: string;
  checksum: boolean;
  /** The tables were created empty by this migration's pre-data step (with its bookkeeping). */
  fresh: boolean;
  /** The migration workflow, told about live progress (the unit runs in a child workflow). */
  progressWorkflowId: string;
  /** Memory and parallel workers of the index builds (absent in histories from before: defaults). */
  indexBuild?: IndexBuild;
  /**
   * Snapshots lost during the copy whose work is kept: a unit committed under one of them is
   * not copied again, and its results say which snapshot it was read under.
   */
  keepRecordsFrom?: string[];
}

const HEARTBEAT_MS = 1_000;
const PROGRESS_SIGNAL_MS = 15_000;
/** Below this size (as listed), a table's index builds and ANALYZE take moments: sent with its COPY. */
const INLINE_BYTES = 8 * 1024 * 1024;

export function makeCopyUnit(deps: ActivityDeps) {
  return async function copyUnit(input: CopyUnitInput): Promise<TableCopyResult[]> {
    const { source, target, secrets } = resolveBoth(deps, input);
    const ctx = Context.current();
    const progress = new ProgressReporter(input.progressWorkflowId);
    const control = new CopyControlPoller(); // pause and this copy's share of the rate limits
    const metrics = new CopyMetrics();
    let src: Client | undefined;
    let tgt: Client | undefined;
    let current = input.unit.tables[0];
    const live: LiveState = { table: displayName(current), rows: 0, bytes: 0 };
    let committedBefore = false; // the unit was in the target already: nothing read again
    // A retry (a worker died, a connection broke): what the failed attempt had copied is read
    // again, as far as its last heartbeat that reached Temporal tells.
    const retry = ctx.info.attempt > 1;
    const reread = retry ? Number((ctx.info.heartbeatDetails as Partial<LiveState> | undefined)?.bytes ?? 0) : 0;
    // One heartbeat timer for the whole unit: index builds can take longer than the timeout.
    const endLifetime = activityLifetime({
      heartbeatMs: HEARTBEAT_MS,
      details: () => ({ ...live }),
      onBeat: () => progress.maybeSend([{ schema: current.schema, name: current.name, state: 'copying', rows: live.rows, bytes: live.bytes }]),
      closeOnCancel: () => [src, tgt],
    });
    try {
      const results = await guarded(
        { doing: () => `copy ${displayName(current)}`, secrets, retry: input.retry },
        async () => {
          const { unit } = input;
          // The source session (snapshot, catalog reads), the target session (the unit's record)
          // and the first control poll do not wait for each other: over a unit of tiny tables,
          // one after the other they took about 300 ms of a 2-second unit.
          const [read, found] = await settleAll([
            (async () => {
              const client = (src = await openClient(source, 'copy'));
              await beginUnderSnapshot(client, input.snapshot);
              const columns = await readCopyColumns(client, unit.tables);
              const whole = input.fresh && !unit.chunk; // this unit builds the tables' indexes, keys, foreign keys and triggers
              const indexes = whole ? await readIndexStatements(client, unit.tables) : new Map<string, IndexStatement[]>();
              const foreignKeys = whole ? await readForeignKeys(client, unit.tables) : [];
              const triggers = whole ? await readTriggers(client, unit.tables) : [];
              return { client, columns, indexes, foreignKeys, triggers };
            })(),
            (async () => {
              const client = (tgt = await openClient(target, 'copy', indexBuildSettings(input.indexBuild)));
              await client.query('BEGIN');
              // Units are recorded in the bookkeeping; chunks of existing tables too when it could be made
              // (copy-tables empties them first): a chunk never truncates, so only its record stops a
              // retry after a lost acknowledgement from adding its rows twice.
              const recorded = input.fresh || (unit.chunk !== undefined && (await hasUnitRecords(client)));
              // An attempt that lost touch with Temporal may still be running: wait for its transaction.
              if (recorded) await lockUnit(client, input.progressWorkflowId, unit.id);
              return { client, recorded, record: recorded ? await findUnitRecord(client, input.progressWorkflowId, unit.id) : undefined };
            })(),
            control.start(),
          ] as const);
          const { columns, indexes, foreignKeys, triggers } = read;
          const { recorded, record } = found;
          const [from, into] = [read.client, found.client];
          const workers = new BuildWorkers(input.indexBuild, control);
          if (record?.snapshot === input.snapshot || (record && input.keepRecordsFrom?.includes(record.snapshot))) {
            committedBefore = true; // by an earlier attempt, or an earlier data phase whose work is kept
            return record.snapshot === input.snapshot ? record.results : record.results.map((r) => ({ ...r, snapshot: record.snapshot }));
          }
          // A chunk's record means its rows are in the table (emptying a split table removes its
          // chunks' records): copying it again would add them twice.
          if (record && unit.chunk) throw new Error(`chunk ${unit.chunk.index + 1}/${unit.chunk.count} is in the target already, read under snapshot ${record.snapshot}, which is not kept; empty the table first`);
          // A fresh table is empty unless an older snapshot's copy committed into it. Truncating
          // an empty table costs a file and an fsync each, which adds up over thousands of tiny
          // tables, but it lets a big table be copied with FREEZE.
          // A chunk never truncates: other chunks of its table commit beside it.
          const truncate = !unit.chunk && (!input.fresh || record !== undefined || unit.tables.length === 1);

          progress.chunk = unit.chunk?.index;
          // Sent while the first tables copy; awaited before the unit reports itself done.
          const started = progress.send(unit.tables.map((t) => update(t, 'copying', 0, 0)));
          const planned = unit.tables.map((table) => {
            const plan: TablePlan = {
              columns: selectedColumns(columns.get(tableKey(table))!, table),
              truncate,
              indexes: indexes.get(tableKey(table)) ?? [],
              recopy: record !== undefined,
              chunk: unit.chunk,
            };
            return { table, plan, shares: sharesQuery(table, plan), format: plan.columns.format, bytes: table.estimatedBytes };
          });
          const copying: CopyContext = { checksum: input.checksum, live, gate: control.gate, workers, metrics, onTable: (table) => (current = table) };
          const results: TableCopyResult[] = [];
          for (const group of copyGroups(planned)) results.push(...(await copyTables(from, into, group, copying)));
          if (recorded) {
            await addReadyForeignKeys(into, foreignKeys, input);
            await addTriggers(into, triggers);
            await recordUnit(into, input.progressWorkflowId, unit.id, input.snapshot, results);
          }
          await into.query('COMMIT');
          await from.query('COMMIT');
          await started;
          // Done and committed: the sessions need not be waited out (the finally's close is then a no-op).
          closeInBackground(src);
          closeInBackground(tgt);
          src = tgt = undefined;
          return results;
        },
      );
      return retry && !committedBefore ? [{ ...results[0], reread }, ...results.slice(1)] : results;
    } catch (err) {
      // The snapshot went with a dead worker: the next data phase reads this unit again, and the
      // bytes the dead attempt had copied are part of what the loss cost.
      if (retry && err instanceof ApplicationFailure && err.type === FailureType.SnapshotLost) {
        throw ApplicationFailure.create({ message: err.message, type: FailureType.SnapshotLost, nonRetryable: true, details: [{ reread }] });
      }
      throw err;
    } finally {
      endLifetime();
      control.stop();
      await closeQuietly(src);
      await closeQuietly(tgt);
    }
  };
}

/**
 * The foreign keys whose other end is in already (early-foreign-keys.ts): added now, beside the
 * copies still running, instead of by post-data after the last one.
 */
async function addReadyForeignKeys(tgt: Client, keys: ForeignKey[], input: CopyUnitInput): Promise<void> {
  if (!keys.length) return;
  const copied = new Set(input.unit.tables.map(tableKey));
  const committed = await tablesIn(tgt, input.progressWorkflowId, [input.snapshot, ...(input.keepRecordsFrom ?? [])], otherEnds(keys, copied));
  await addForeignKeys(tgt, readyKeys(keys, copied, committed));
}

/** What the heartbeat shows: the table being copied, rows and bytes so far, or the index being built. */
interface LiveState {
  table: string;
  rows: number;
  bytes: number;
  building?: string;
}

interface TablePlan {
  columns: CopyColumns;
  truncate: boolean;
  /** Index and key statements to run once the rows are in. */
  indexes: IndexStatement[];
  /** Copied before under a lost snapshot: indexes may exist already. */
  recopy: boolean;
  /** Only these rows (a split table's chunk): no indexes or ANALYZE here. */
  chunk?: ChunkRange;
}

/** What copyTables needs besides the tables: the unit's live state, throttle and counters. */
interface CopyContext {
  checksum: boolean;
  live: LiveState;
  gate: RateGate;
  workers: BuildWorkers;
  metrics: CopyMetrics;
  /** Told which table is being copied (errors name it). */
  onTable: (table: TableRef) => void;
}

type PlannedTable = Groupable & { table: TableRef; plan: TablePlan };

/** Small tables whose statements ride in the COPY's query may share one query with their neighbours. */
function sharesQuery(table: TableRef, plan: TablePlan): boolean {
  return inlines(table) && !plan.recopy && !plan.chunk;
}

/** A small table's statements ride in the COPY's query: the server runs them right after the rows are in. */
function inlines(table: TableRef): boolean {
  return !table.preexisting && table.estimatedBytes < INLINE_BYTES;
}

/**
 * Copies a group of tables (copy-groups.ts: one table, or several small ones) in one query on
 * each side, then finishes each: a kept table's merge, a big table's index builds.
 */
async function copyTables(src: Client, tgt: Client, group: PlannedTable[], ctx: CopyContext): Promise<TableCopyResult[]> {
  const started = Date.now();
  const steps: TableStatements[] = [];
  for (const { table, plan } of group) steps.push(await tableStatements(tgt, table, plan));
  const copied = await relay(src, tgt, group, steps, ctx);
  const results: TableCopyResult[] = [];
  // A lone table's time includes its index builds; in a group, each table's is its copy's.
  const startedAlone = group.length === 1 ? started : undefined;
  for (const [i, planned] of group.entries()) results.push(await finishTable(src, tgt, planned, steps[i], copied[i], ctx, startedAlone));
  return results;
}

/** The group's rows, source to target, each table's count agreed by both ends; the heartbeat follows table by table. */
async function relay(src: Client, tgt: Client, group: PlannedTable[], steps: TableStatements[], ctx: CopyContext): Promise<CopyFigures[]> {
  const { live, metrics } = ctx;
  const reader = src.query(new CopyOutRelay(steps.map((s) => s.copyOut).join(';\n'), group[0].plan.columns.format === 'binary', steps.length));
  const writer = tgt.query(new CopyInRelay(targetQuery(steps)));
  // Copy i starts (the first is shown before the query goes): the previous table's last rows count, then this one's.
  const show = (i: number) => {
    const done = reader.finished[i - 1];
    if (done) metrics.observe(done.rows, done.bytes);
    ctx.onTable(group[i].table);
    Object.assign(live, { table: displayName(group[i].table), rows: 0, bytes: 0, building: undefined });
    metrics.nextTable();
  };
  show(0);
  reader.on('copy', show);
  const follow = setInterval(() => {
    Object.assign(live, { rows: reader.copyRows, bytes: reader.copyBytes });
    metrics.observe(reader.copyRows, reader.copyBytes);
  }, 250);
  try {
    // Paused or over its share of the limit, the throttle stage holds a chunk and the source waits.
    await pipeline(reader, throttledStream(ctx.gate, () => reader), writer);
  } finally {
    clearInterval(follow);
    reader.off('copy', show);
  }
  // Fails the copy (named by guarded) on a mismatch.
  const counts = await agreedRowCounts(reader, writer, group.map((p) => displayName(p.table)));
  const last = counts.length - 1;
  metrics.observe(counts[last], reader.finished[last].bytes);
  return reader.finished.map((f, i) => ({ ...f, rows: counts[i] }));
}

/** After a table's rows are in: a kept table's merge, a big table's index builds; its result. */
async function finishTable(
  src: Client,
  tgt: Client,
  { table, plan }: PlannedTable,
  step: TableStatements,
  copied: CopyFigures,
  ctx: CopyContext,
  startedAlone: number | undefined,
): Promise<TableCopyResult> {
  const { live } = ctx;
  let rows = copied.rows;
  let rowsKept: number | undefined;
  if (table.preexisting) {
    // conflicts: ignore on a table that was already there: keep its rows, add the missing ones.
    const inserted = await tgt.query(`INSERT INTO ${step.destination} (${plan.columns.list}) SELECT ${plan.columns.list} FROM pgferry_stage ON CONFLICT DO NOTHING`);
    await tgt.query('DROP TABLE pgferry_stage');
    rowsKept = rows - (inserted.rowCount ?? 0);
    rows = inserted.rowCount ?? 0;
  }
  Object.assign(live, { rows, bytes: copied.bytes });
  if (!step.inline) {
    // One by one, so that the heartbeat shows which index a long build is at.
    for (const sql of [...step.after, ...(step.analyze ? [analyzeStatement([step.destination])] : [])]) {
      live.building = sql.slice(0, 200);
      await ctx.workers.beforeBuild(tgt);
      await tgt.query(sql);
    }
    live.building = undefined;
  }
  const result: TableCopyResult = { schema: table.schema, name: table.name, rows, bytes: copied.bytes, ms: startedAlone !== undefined ? Date.now() - startedAlone : copied.ms };
  if (rowsKept !== undefined) result.rowsKept = rowsKept;
  if (plan.chunk) result.chunk = { index: plan.chunk.index, count: plan.chunk.count };
  result.worker = workerIdentity();
  if (ctx.checksum) result.sourceChecksum = await sourceChecksum(src, table, { columns: table.columns?.map(quoteIdent).join(', '), where: step.rows });
  return result;
}

/** A table's statements: its COPY on the source, and on the target what comes before its rows, its COPY and what comes after. */
interface TableStatements {
  copyOut: string;
  /** Staging table or TRUNCATE, in the target's query before the rows. */
  before: string[];
  copyIn: string;
  /** Indexes and keys. */
  after: string[];
  /** Then ANALYZE (not for a chunk). */
  analyze: boolean;
  /** `after` and ANALYZE ride in the COPY's query. */
  inline: boolean;
  /** The source rows read (row filter, chunk range), if not all. */
  rows?: string;
  /** The target table, quoted. */
  destination: string;
}

async function tableStatements(tgt: Client, table: TableRef, plan: TablePlan): Promise<TableStatements> {
  const { columns } = plan;
  const name = qualified(table);
  const destination = qualified(copyDestination(table));
  const before: string[] = [];
  let into = destination;
  if (table.preexisting) {
    before.push(`CREATE TEMP TABLE pgferry_stage (LIKE ${destination}) ON COMMIT DROP`);
    into = 'pgferry_stage';
  } else if (plan.truncate) {
    // Copied again: foreign keys an earlier unit added would refuse the TRUNCATE or check every
    // row, and its triggers would fire for the TRUNCATE and every row.
    if (plan.recopy) before.push(...(await foreignKeyDrops(tgt, table)), ...(await triggerDrops(tgt, table)));
    before.push(`TRUNCATE ONLY ${name}`);
  }
  // FREEZE is allowed when the table was truncated in this transaction: it saves the target
  // a rewrite of every page by the first VACUUM after the migration.
  const freeze = !table.preexisting && plan.truncate ? ', FREEZE' : '';
  // After the rows: the indexes and keys, then statistics, while the pages are in cache
  // (instead of a pass over every table afterwards).
  const existing = plan.recopy ? await existingIndexNames(tgt, table) : new Set<string>();
  const after = plan.indexes.filter((s) => !(s.creates && existing.has(s.creates))).map((s) => s.sql);
  const rows = rowCondition(table, plan.chunk);
  const format = `(FORMAT ${columns.format})`;
  const copyOut = rows ? `COPY (SELECT ${columns.list} FROM ONLY ${name} WHERE ${rows}) TO STDOUT ${format}` : `COPY ${name} (${columns.list}) TO STDOUT ${format}`;
  const copyIn = `COPY ${into} (${columns.list}) FROM STDIN (FORMAT ${columns.format}${freeze})`;
  return { copyOut, before, copyIn, after, analyze: !plan.chunk, inline: inlines(table), ...(rows ? { rows } : {}), destination };
}

/**
 * The target's query: each table's rows and, for small tables, its keys; then one ANALYZE of
 * the small tables, which costs the server less than one statement each (2,000 tiny tables in
 * one query: 0.45 s as 20 statements of 100, 0.65 s as 2,000).
 */
function targetQuery(steps: TableStatements[]): string {
  const statements = steps.flatMap((s) => [...s.before, s.copyIn, ...(s.inline ? s.after : [])]);
  const analyzed = steps.filter((s) => s.inline && s.analyze).map((s) => s.destination);
  if (analyzed.length) statements.push(analyzeStatement(analyzed));
  return statements.join(';\n');
}

/** One ANALYZE of the given (quoted) tables: a big table's alone, after its builds; small tables' together. */
function analyzeStatement(destinations: string[]): string {
  return `ANALYZE ${destinations.join(', ')}`;
}

/** Which source rows the copy reads: the table's row filter and the chunk's range, or all (undefined). */
export function rowCondition(table: TableRef, chunk: ChunkRange | undefined): string | undefined {
  const parts: string[] = [];
  if (chunk) parts.push(...chunkCondition(chunk));
  if (table.where) parts.push(`(${table.where})`);
  return parts.length ? parts.join(' AND ') : undefined;
}

function chunkCondition(chunk: ChunkRange): string[] {
  // Bounds are decimal text made by the listing (common/table-split.ts); checked again here
  // since they are pasted into SQL.
  const bound = (v: string) => {
    if (!/^-?\d+$/.test(v)) throw new Error(`invalid chunk bound ${JSON.stringify(v)}`);
    return v;
  };
  if (chunk.by === 'key') {
    const column = quoteIdent(chunk.column!);
    return [...(chunk.from !== undefined ? [`${column} >= ${bound(chunk.from)}`] : []), ...(chunk.to !== undefined ? [`${column} < ${bound(chunk.to)}`] : [])];
  }
  return [...(chunk.from !== undefined ? [`ctid >= '(${bound(chunk.from)},0)'::tid`] : []), ...(chunk.to !== undefined ? [`ctid < '(${bound(chunk.to)},0)'::tid`] : [])];
}

/**
 * Keeps the session's max_parallel_maintenance_workers at what a build starting now may use:
 * with `indexBuild.workers: idle`, the copy lanes that have nothing left to copy.
 */
class BuildWorkers {
  private current: number;
  constructor(
    private readonly build: IndexBuild | undefined,
    private readonly control: CopyControlPoller,
  ) {
    this.current = buildWorkers(build, 0); // as the session started (indexBuildSettings)
  }

  async beforeBuild(tgt: Client): Promise<void> {
    const wanted = buildWorkers(this.build, this.control.idleLanes);
    if (wanted === this.current) return;
    await tgt.query(`SET max_parallel_maintenance_workers = ${wanted}`);
    this.current = wanted;
  }
}

/** The copy's column list narrowed to the table's selected columns (objects.tables.<t>.columns). */
function selectedColumns(all: CopyColumns, table: TableRef): CopyColumns {
  if (!table.columns) return all;
  const wanted = new Set(table.columns);
  const names = all.names.filter((c) => wanted.has(c));
  return { ...all, names, list: names.map(quoteIdent).join(', ') };
}

function update(table: TableRef, state: TableProgressUpdate['state'], rows: number, bytes: number): TableProgressUpdate {
  return { schema: table.schema, name: table.name, state, rows, bytes };
}

/**
 * Live progress for the migration workflow's progress query and Web UI details. Best effort
 * and rate-limited: each signal is a history event, and correctness never depends on it.
 */
class ProgressReporter {
  private lastSent = 0;
  /** The chunk this unit copies, if it is one: its updates add up with the other chunks'. */
  chunk?: number;
  constructor(private readonly workflowId: string) {}

  maybeSend(updates: TableProgressUpdate[]): void {
    if (Date.now() - this.lastSent >= PROGRESS_SIGNAL_MS) void this.send(updates);
  }

  async send(updates: TableProgressUpdate[]): Promise<void> {
    this.lastSent = Date.now();
    try {
      const tagged = this.chunk === undefined ? updates : updates.map((u) => ({ ...u, chunk: this.chunk }));
      await Context.current().client.workflow.getHandle(this.workflowId).signal(TABLE_PROGRESS_SIGNAL, tagged);
    } catch {
      // The workflow may be closing; progress display is not worth failing a copy for.
    }
  }
}
