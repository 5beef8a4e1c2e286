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
import { largeObjectsCopiedSignal, unitCopiedSignal } from './messages';
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
  /** What copies on dead workers had read when the snapshot went with them (read again). */
  const reread = { units: 0, bytes: 0 };
  let control: ChildControl = input.control ?? { paused: false, limit: {} };
  setHandler(copyControlSignal, (next) => void (control = next));
  // Each running copy gets an equal share of the limit for the whole migration.
  // Lanes are idle once nothing is left to start: index builds still running may use them.
  setHandler(copyControlQuery, () => ({ paused: control.paused, limit: shareOf(control.limit, running), idleLanes: idleCopyLanes(waiting(), running, input.parallelism) }));

  const runUnit = async (unit: CopyUnit) => {
    try {
      const results = await copyUnit.executeWithOptions({ summary: unitSummary(unit) }, [
        {
          source: input.source,
          target: input.target,
          retry: input.retry,
          unit,
          snapshot: input.snapshot,
          checksum: input.checksum,
          fresh: input.withSchema && unit.tables.every((t) => !t.preexisting),
          progressWorkflowId: input.migrationId,
          indexBuild: input.indexBuild,
          ...(input.keepRecordsFrom?.length ? { keepRecordsFrom: input.keepRecordsFrom } : {}),
        },
      ]);
      await migration.signal(unitCopiedSignal, { generation: input.generation, results });
      if (unit.chunk) {
        const key = tableKey(unit.tables[0]);
        const done = (chunksDone.get(key) ?? 0) + 1;
        chunksDone.set(key, done);
        if (done === unit.chunk.count) finishQueue.push(unit.tables[0]);
      }
    } catch (err) {
      failure ??= err;
      const lost = rereadWork(err);
      reread.units += lost.tables;
      reread.bytes += lost.bytes;
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
    try {
      await finishSplitTable.executeWithOptions({ summary: `finish ${displayName(table)} (indexes, ANALYZE)`.slice(0, 200) }, [
        { source: input.source, target: input.target, retry: input.retry, table, snapshot: input.snapshot, fresh: input.withSchema, indexBuild: input.indexBuild },
      ]);
    } catch (err) {
      failure ??= err;
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
    await condition(() => failure !== undefined || (waiting() > 0 && running < input.parallelism && !control.paused) || (waiting() === 0 && running === 0));
    if (failure || waiting() === 0) break;
    running += 1;
    if (finishQueue.length) void runFinish(finishQueue.shift()!);
    else if (queue.length) void runUnit(queue.shift()!);
    else void runObjects(objectQueue.shift()!);
    const info = workflowInfo();
    if (waiting() && (info.continueAsNewSuggested || info.historyLength > HISTORY_BUDGET)) {
      await condition(() => running === 0);
      if (!failure) {
        await continueAsNew<typeof copyTablesWorkflow>({
          ...input,
          units: queue,
          largeObjects: objectQueue,
          control,
          ...(split.length || chunksDone.size || finishQueue.length || input.emptyFirst ? { chunksDone: Object.fromEntries(chunksDone), toFinish: finishQueue, prepared: true } : {}),
        });
      }
    }
  }
  await condition(() => running === 0);
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
