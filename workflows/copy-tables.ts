/**
 * Child workflow of the data phase: runs copy units (tables) and then batches of large objects,
 * with at most `parallelism` at once, and reports each one done to the migration workflow. It continues-as-new when its history
 * grows large, so 10,000+ tables never hit Temporal's history limits.
 */
import {
  ApplicationFailure,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { Endpoints } from '../activities/deps';
import { displayName, tableKey, type CopyUnit, type TableRef } from '../common/plan';
import { describeChunk } from '../common/table-split';
import { FailureType } from '../common/failure-types';
import { long } from './activity-options';
import { isSnapshotLost, rereadWork, rootMessage } from './failures';
import { copySnapshotSignal, largeObjectsCopiedSignal, unitCopiedSignal } from './messages';
import type { LargeObjectBatch } from '../common/large-objects';
import { copyControlQuery, copyControlSignal } from './control-messages';
import type { ChildControl } from '../common/control';
import { shareOf } from '../common/throttle';
import { idleCopyLanes, type IndexBuild } from '../common/index-build';

const { copyUnit, copyLargeObjects, finishSplitTable, emptySplitTables } = proxyActivities<Activities>(long);

export interface CopyTablesInput extends Endpoints {
  migrationId: string;
  generation: number;
  snapshot: string;
  units: CopyUnit[];
  parallelism: number;
  checksum: boolean;
  /** This migration created the tables (types include schema). */
  withSchema: boolean;
  /** The spec's indexBuild (absent in histories from before). */
  indexBuild?: IndexBuild;
  /** Pause and the migration's `throttle.full` (updated by signal; carried over continue-as-new). */
  control?: ChildControl;
  /** Batches of large objects, copied once the tables have all started (absent in histories from before). */
  largeObjects?: LargeObjectBatch[];
  /** Give large objects their owners, comments and grants (types include schema). */
  largeObjectMetadata?: { keepOwnership: boolean };
  /** Split tables: chunks committed so far by table key, and tables whose chunks are all in (carried over continue-as-new). */
  chunksDone?: Record<string, number>;
  toFinish?: TableRef[];
  /** The split tables were emptied already (or needed no emptying). */
  prepared?: boolean;
  /**
   * Split tables to empty (with their chunks' records) before any chunk starts: they may hold
   * rows that are not kept. Absent in histories from before: then those of a restarted data
   * phase, or of a copy into existing tables, are.
   */
  emptyFirst?: { tables: TableRef[]; unitIds: number[] };
  /** Snapshots lost earlier whose work is kept (see copyUnit). */
  keepRecordsFrom?: string[];
  /**
   * A lost snapshot does not fail this workflow: copies that could not read under it wait for
   * the migration's copySnapshot signal and go on under the new snapshot (absent in histories
   * from before: the data phase starts again).
   */
  switchable?: boolean;
  /** Bytes read by failed attempts of units waiting to run again, by unit id (carried over continue-as-new). */
  rereadByUnit?: Record<string, number>;
}

/** Well under Temporal's 10,240-event warning, leaving room for units still in flight. */
const HISTORY_BUDGET = 8_000;

export async function copyTablesWorkflow(input: CopyTablesInput): Promise<void> {
  const migration = getExternalWorkflowHandle(input.migrationId);
  const queue = [...input.units];
  const objectQueue = [...(input.largeObjects ?? [])];
  // Split tables whose chunks are all in: their indexes are built next, before anything else starts.
  const finishQueue = [...(input.toFinish ?? [])];
  const chunksDone = new Map(Object.entries(input.chunksDone ?? {}));
  const waiting = () => finishQueue.length + queue.length + objectQueue.length;
  let running = 0;
  let failure: unknown;
  // The snapshot units start under: a new one replaces it when the old is lost (switchable).
  let snapshot = input.snapshot;
  let keepRecordsFrom = input.keepRecordsFrom ?? [];
  /** The current snapshot was found lost: nothing starts until the migration sends another. */
  let stale = false;
  const rereadByUnit = new Map(Object.entries(input.rereadByUnit ?? {}).map(([id, bytes]) => [Number(id), bytes]));
  setHandler(copySnapshotSignal, (next) => {
    if ('stop' in next) {
      failure ??= ApplicationFailure.nonRetryable('the copy snapshot was lost', FailureType.SnapshotLost);
      return;
    }
    snapshot = next.snapshot;
    keepRecordsFrom = next.keepRecordsFrom;
    stale = false;
  });
  /** A lost snapshot, when this workflow may wait for another: the work goes back in its queue. */
  const requeued = (err: unknown, used: string, requeue: () => void): boolean => {
    if (!input.switchable || failure !== undefined || !isSnapshotLost(err)) return false;
    requeue();
    if (used === snapshot) stale = true;
    return true;
  };
  /** What copies on dead workers had read when the snapshot went with them (read again). */
  const reread = { units: 0, bytes: 0 };
  let control: ChildControl = input.control ?? { paused: false, limit: {} };
  setHandler(copyControlSignal, (next) => void (control = next));
  // Each running copy gets an equal share of the limit for the whole migration.
  // Lanes are idle once nothing is left to start: index builds still running may use them.
  setHandler(copyControlQuery, () => ({ paused: control.paused, limit: shareOf(control.limit, running), idleLanes: idleCopyLanes(waiting(), running, input.parallelism) }));

  const runUnit = async (unit: CopyUnit) => {
    const used = snapshot;
    try {
      let results = await copyUnit.executeWithOptions({ summary: unitSummary(unit) }, [
        {
          source: input.source,
          target: input.target,
          retry: input.retry,
          unit,
          snapshot: used,
          checksum: input.checksum,
          fresh: input.withSchema && unit.tables.every((t) => !t.preexisting),
          progressWorkflowId: input.migrationId,
          indexBuild: input.indexBuild,
          ...(keepRecordsFrom.length ? { keepRecordsFrom } : {}),
        },
      ]);
      if (input.switchable) {
        // The migration learns which snapshot the rows were read under, and what failed attempts read.
        const before = rereadByUnit.get(unit.id);
        rereadByUnit.delete(unit.id);
        const [first, ...rest] = results;
        const reread = before === undefined ? first.reread : before + (first.reread ?? 0);
        results = [{ ...first, snapshot: first.snapshot ?? used, ...(reread !== undefined ? { reread } : {}) }, ...rest];
      }
      await migration.signal(unitCopiedSignal, { generation: input.generation, results });
      if (unit.chunk) {
        const key = tableKey(unit.tables[0]);
        const done = (chunksDone.get(key) ?? 0) + 1;
        chunksDone.set(key, done);
        if (done === unit.chunk.count) finishQueue.push(unit.tables[0]);
      }
    } catch (err) {
      const lost = rereadWork(err);
      const waits = requeued(err, used, () => {
        queue.unshift(unit);
        rereadByUnit.set(unit.id, (rereadByUnit.get(unit.id) ?? 0) + lost.bytes);
      });
      if (!waits) {
        failure ??= err;
        reread.units += lost.tables;
        reread.bytes += lost.bytes;
      }
    } finally {
      running -= 1;
    }
  };

  const runObjects = async (batch: LargeObjectBatch) => {
    try {
      const result = await copyLargeObjects.executeWithOptions({ summary: `copy large objects ${batch.firstOid}–${batch.lastOid} (${batch.objects})` }, [
        {
          source: input.source,
          target: input.target,
          retry: input.retry,
          batch,
          snapshot: input.snapshot,
          checksum: input.checksum,
          progressWorkflowId: input.migrationId,
          generation: input.generation,
          metadata: input.largeObjectMetadata,
        },
      ]);
      await migration.signal(largeObjectsCopiedSignal, { generation: input.generation, result });
    } catch (err) {
      failure ??= err;
    } finally {
      running -= 1;
    }
  };

  const runFinish = async (table: TableRef) => {
    const used = snapshot;
    try {
      await finishSplitTable.executeWithOptions({ summary: `finish ${displayName(table)} (indexes, ANALYZE)`.slice(0, 200) }, [
        { source: input.source, target: input.target, retry: input.retry, table, snapshot: used, fresh: input.withSchema, indexBuild: input.indexBuild },
      ]);
    } catch (err) {
      if (!requeued(err, used, () => finishQueue.unshift(table))) failure ??= err;
    } finally {
      running -= 1;
    }
  };

  // A chunk never truncates (its table's other chunks commit beside it): a split table that may
  // hold rows (from a data phase restarted under a new snapshot, or a copy into existing
  // tables) is emptied before its chunks start.
  const split = splitTables(input.units);
  if (!input.prepared && input.emptyFirst) {
    const { tables, unitIds } = input.emptyFirst;
    if (tables.length) await emptySplitTables({ target: input.target, retry: input.retry, tables, records: { migrationId: input.migrationId, unitIds } });
  } else if (!input.prepared && split.length && (input.generation > 1 || !input.withSchema)) {
    await emptySplitTables({ target: input.target, retry: input.retry, tables: split });
  }

  for (;;) {
    // Paused: start no new unit (running ones hold still themselves). A running chunk may still
    // add a table to finish, so the loop ends only once nothing waits and nothing runs.
    await condition(() => failure !== undefined || (waiting() > 0 && running < input.parallelism && !control.paused && !stale) || (waiting() === 0 && running === 0));
    if (failure || waiting() === 0) break;
    running += 1;
    if (finishQueue.length) void runFinish(finishQueue.shift()!);
    else if (queue.length) void runUnit(queue.shift()!);
    else void runObjects(objectQueue.shift()!);
    const info = workflowInfo();
    if (waiting() && !stale && (info.continueAsNewSuggested || info.historyLength > HISTORY_BUDGET)) {
      await condition(() => running === 0);
      if (!failure) {
        await continueAsNew<typeof copyTablesWorkflow>({
          ...input,
          units: queue,
          largeObjects: objectQueue,
          control,
          snapshot,
          ...(keepRecordsFrom.length ? { keepRecordsFrom } : {}),
          ...(rereadByUnit.size ? { rereadByUnit: Object.fromEntries(rereadByUnit) } : {}),
          ...(split.length || chunksDone.size || finishQueue.length || input.emptyFirst ? { chunksDone: Object.fromEntries(chunksDone), toFinish: finishQueue, prepared: true } : {}),
        });
      }
    }
  }
  await condition(() => running === 0);
  for (const bytes of rereadByUnit.values()) {
    // Units that were waiting for a new snapshot when the copy stopped: read again too.
    reread.units += 1;
    reread.bytes += bytes;
  }
  if (failure) {
    if (isSnapshotLost(failure)) throw ApplicationFailure.create({ message: 'the copy snapshot was lost', type: FailureType.SnapshotLost, nonRetryable: true, ...(reread.units ? { details: [{ reread: reread.bytes, units: reread.units }] } : {}) });
    throw ApplicationFailure.nonRetryable(rootMessage(failure), FailureType.CopyFailed);
  }
}

/** The split tables among the units, once each. */
function splitTables(units: CopyUnit[]): TableRef[] {
  const tables = new Map<string, TableRef>();
  for (const u of units) if (u.chunk) tables.set(tableKey(u.tables[0]), u.tables[0]);
  return [...tables.values()];
}

function unitSummary(unit: CopyUnit): string {
  if (unit.chunk) return `copy ${displayName(unit.tables[0])} ${describeChunk(unit.chunk)}`.slice(0, 200);
  if (unit.tables.length === 1) return `copy ${displayName(unit.tables[0])}`.slice(0, 200);
  return `copy ${unit.tables.length} tables (${displayName(unit.tables[0])} …)`.slice(0, 200);
}
