/**
 * Step 7 of an incremental migration, the change stream and the cutover: the stream runs in a
 * child workflow (./stream-changes.ts) until the operator's cutover; then the stream stops
 * exactly at a marker written into the source's WAL, the target is fenced, sequences are set,
 * and source and target are compared. Also what an incremental migration leaves on the source
 * and drops at the end, however it ends (releaseSource).
 */
import { ApplicationFailure, condition, startChild } from '@temporalio/workflow';
import { describeConnection } from '../common/connection';
import { ddlCaptureNames } from '../common/ddl';
import { FailureType } from '../common/failure-types';
import type { SnapshotReady } from '../common/messages';
import { tableKey, type CutoverResult, type TableRef } from '../common/plan';
import type { ReplicationNames } from '../common/replication-names';
import type { MigrationSpec } from '../common/spec';
import type { OperationsConfig } from '../common/stream';
import { buildSyncPlan, earliestLsn, type SyncPlan } from '../common/sync-plan';
import type { CopiedUnits } from './copied-units';
import type { PendingCutover } from './cutover';
import { rootMessage } from './failures';
import { stopAtSignal } from './messages';
import { acts, dropReplication } from './migration-activities';
import type { MigrationRun } from './migration-run';
import type { SnapshotLease } from './snapshot-lease';
import { streamChangesWorkflow, watchStream, type RunningStream, type StreamWorkflowResult } from './stream-changes';
import { compareTables, largeObjectFailure, validationFailure } from './validation';
import type { Verification } from './verification';
import type { WayBack } from './way-back';

/** Where the change stream starts: a slot, its position, and where each table's changes start when copies were read under several snapshots. */
export interface StreamStart {
  slot: string;
  lsn: string;
  syncPlan?: SyncPlan;
}

/** The cutover requests as the streaming step sees them (./cutover.ts). */
export interface Cutovers {
  pending?: PendingCutover;
  /** The request gave up (its time ran out): it fails with `why`, and another may come. */
  abandon(request: PendingCutover, why: string): void;
}

/**
 * Streams changes from `from` until a cutover request (the cutover Update or signal), then cuts
 * over; returns what the cutover did. A request with a time limit that the stream does not meet
 * is abandoned: the source is writable again, the stream goes on, and the next request may come.
 */
export async function streamUntilCutover(run: MigrationRun, names: ReplicationNames, from: StreamStart, tables: TableRef[], cutovers: Cutovers, verification?: Verification, wayBack?: WayBack): Promise<CutoverResult> {
  const { spec, id } = run;
  // Slots of snapshots that were lost along the way hold WAL for nothing: drop them.
  await dropReplication({ source: spec.source, retry: spec.retry, names, keepSlot: from.slot, dropPublication: false });
  await acts.openStream({ target: spec.target, retry: spec.retry, migrationId: id, slot: from.slot, startLsn: from.lsn });
  run.enter('streaming');
  // Online verification (./verification.ts): its schedule runs while the stream does.
  verification?.skipTables(tables.filter((t) => t.preexisting));
  let verifying = verification?.runSchedule();
  let stream = await startStream(run, names, from);

  for (;;) {
    await condition(() => cutovers.pending !== undefined || stream.ended);
    if (stream.failure) throw stream.failure;
    const requested = cutovers.pending;
    if (!requested) throw ApplicationFailure.nonRetryable('the change stream ended before cutover', FailureType.StreamEnded);

    verification?.stop();
    await verifying;
    run.enter('cutover');
    const request = requested.request;
    const lock = request.lockSource ? await acts.lockSource({ source: spec.source, retry: spec.retry }) : undefined;
    const marker = await acts.emitCutoverMarker({ source: spec.source, retry: spec.retry, migrationId: id });
    await stream.handle.signal(stopAtSignal, { lsn: marker.lsn });
    const limit = request.timeoutSeconds;
    if (limit === undefined || (await condition(() => stream.ended, Math.max(1, requested.requestedAt + limit * 1000 - Date.now())))) {
      if (stream.failure) throw stream.failure;
      return await cutOver(run, names, tables, requested, marker.lsn, await stream.result, lock?.lockedAt, wayBack);
    }

    // Out of time: the stream goes on, the source is writable again, nothing was lost.
    await stream.handle.signal(stopAtSignal, {});
    if (lock?.lockedAt) await acts.unlockSource({ source: spec.source, retry: spec.retry, lockedAt: lock.lockedAt });
    const readOnly = lock ? `; the source was read-only for ${((Date.now() - requested.requestedAt) / 1000).toFixed(1)} s and is writable again` : '';
    cutovers.abandon(requested, `the change stream had not reached the cutover position ${marker.lsn} within ${limit} s${readOnly}; the stream goes on, nothing was lost: try again when it has caught up`);
    run.enter('streaming');
    verification?.resume();
    verifying = verification?.runSchedule();
    // It reached the marker as the time ran out, and stopped there: stream on from where it is.
    if (stream.ended && !stream.failure) stream = await startStream(run, names, from);
  }
}


/** The stream child workflow, watched: `ended` once it returns or fails. */
async function startStream(run: MigrationRun, names: ReplicationNames, from: StreamStart): Promise<RunningStream> {
  const { spec, state, control, id } = run;
  const sent = { paused: control.state.paused, limit: control.state.streamLimit() };
  const handle = await startChild(streamChangesWorkflow, {
    workflowId: `${id}/stream`,
    staticSummary: `stream changes ${describeConnection(spec.source)} → ${describeConnection(spec.target)}`.slice(0, 200),
    args: [
      {
        ...run.endpoints,
        migrationId: id,
        names,
        publications: run.publications,
        slot: from.slot,
        operations: streamOperations(spec),
        objects: spec.objects,
        conflicts: spec.conflicts,
        historyBudget: spec.incremental.historyBudget,
        ...sent,
        ...(from.syncPlan ? { syncPlan: from.syncPlan } : {}),
        reportTo: id,
        ...(run.captureDdl ? { ddlMessagePrefix: ddlCaptureNames(names).messagePrefix } : {}),
      },
    ],
  });
  await control.attachStream(handle, sent);
  state.streamWorkflowId = handle.workflowId;
  run.refreshDetails();
  return watchStream(handle);
}

/** The stream stopped at the marker: fence the target, set sequences, compare, drop what is on the source. */
async function cutOver(
  run: MigrationRun,
  names: ReplicationNames,
  tables: TableRef[],
  requested: PendingCutover,
  markerLsn: string,
  streamed: StreamWorkflowResult,
  sourceLockedAt: string | undefined,
  wayBack: WayBack | undefined,
): Promise<CutoverResult> {
  const { spec, state, id } = run;
  const request = requested.request;
  // From here on nothing may write to the target: the fence closes before anything else.
  await acts.closeStream({ target: spec.target, retry: spec.retry, migrationId: id });
  const { sequences } = await acts.copySequences(run.endpoints);
  // Logical decoding carries no large-object changes: the target is brought up to the source's now.
  const largeObjects = run.withLargeObjects ? await acts.syncLargeObjects({ ...run.endpoints, mode: spec.validation, keepOwnership: run.keepOwnership, migrationId: id }) : undefined;
  // Replicated DDL may have created, dropped or renamed tables: compare the ones the source has now.
  const compared = streamed.progress.ddl?.applied ? await tablesNow(run, tables) : tables;
  const validation = await compareTables(run, compared);
  // The way back, before the target is declared ready: the target has taken no write of the applications yet.
  const back = wayBack?.names && !validation.mismatches.length ? await wayBack.prepare(compared, sourceLockedAt) : undefined;
  const dropped = await dropReplication({ source: spec.source, retry: spec.retry, names, dropPublication: true });
  const result: CutoverResult = {
    lsn: markerLsn,
    downtimeMs: Date.now() - requested.requestedAt,
    sourceLocked: request.lockSource,
    sequences,
    validation,
    changesApplied: streamed.progress.totalChanges,
    transactionsApplied: streamed.progress.transactions,
    droppedSlots: dropped.droppedSlots,
    ...(largeObjects ? { largeObjects } : {}),
    ...(streamed.progress.ddl ? { ddl: streamed.progress.ddl } : {}),
    ...(back ? ('notPrepared' in back ? { wayBackNotPrepared: back.notPrepared } : { wayBack: back }) : {}),
  };
  if (validation.mismatches.length) {
    for (const m of validation.mismatches) state.markFailed(m, `cutover validation: source has ${m.expectedRows} rows, target ${m.actualRows}`);
    requested.failure = validationFailure(validation.mismatches).message;
    throw validationFailure(validation.mismatches);
  }
  if (largeObjects && !largeObjects.validation.ok) {
    const failure = largeObjectFailure('cutover validation', largeObjects.validation);
    requested.failure = failure.message;
    throw failure;
  }
  requested.result = result;
  return result;
}

/**
 * Where the change stream starts: the slot of the earliest snapshot that copies were read
 * under, and the position each table's changes start at when they were read under several.
 * Undefined: no snapshot with a slot (nothing to stream from).
 */
export function streamStart(lease: SnapshotLease, copies: CopiedUnits | undefined, last: SnapshotReady | undefined): StreamStart | undefined {
  const readUnder = (copies?.snapshots() ?? []).map((n) => lease.get(n)).filter((r) => r?.slot && r.consistentLsn) as SnapshotReady[];
  if (!readUnder.length) return last?.slot && last.consistentLsn ? { slot: last.slot, lsn: last.consistentLsn } : undefined;
  const lsn = earliestLsn(readUnder.map((r) => r.consistentLsn!));
  const first = readUnder.find((r) => r.consistentLsn === lsn)!;
  const syncPlan = buildSyncPlan(copies!.parts((n) => lease.get(n)!.consistentLsn!));
  return { slot: first.slot!, lsn, ...(syncPlan ? { syncPlan } : {}) };
}

/** The operations the stream replicates, from the spec. */
export function streamOperations(spec: MigrationSpec): OperationsConfig {
  return { operations: spec.incremental.operations, tables: spec.incremental.tables };
}

/** Nothing left behind on the source: fence the target, drop every slot and the publication. */
export async function releaseSource(run: MigrationRun, names: ReplicationNames): Promise<void> {
  const { spec } = run;
  try {
    await acts.closeStream({ target: spec.target, retry: { ...spec.retry, connectionMinutes: 1, otherMinutes: 1 }, migrationId: run.id });
  } catch {
    // the target may be what failed; the slot below matters more
  }
  try {
    await dropReplication({ source: spec.source, retry: spec.retry, names, dropPublication: true });
  } catch (cleanupErr) {
    run.warn(
      `could not drop the replication slots (${names.slotPrefix}*) and publications (${names.publication}*) on the source: ${rootMessage(cleanupErr)}; drop them by hand or the source keeps WAL` +
        (run.captureDdl ? ` (and the DDL capture: event triggers ${names.publication}_ddl_start, _ddl_end and _ddl_drop, schema ${ddlCaptureNames(names).schema})` : ''),
    );
  }
}

/** The selected tables of the source as it is now; those that were in the target before stay so. */
async function tablesNow(run: MigrationRun, before: TableRef[]): Promise<TableRef[]> {
  const { spec } = run;
  const preexisting = new Set(before.filter((t) => t.preexisting).map(tableKey));
  const now = await acts.listTables({ ...run.endpoints, objects: spec.objects, conflicts: spec.conflicts });
  return now.map(({ preexisting: _p, ...t }) => (preexisting.has(tableKey(t)) ? { ...t, preexisting: true } : t));
}
