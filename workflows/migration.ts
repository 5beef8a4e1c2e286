/**
 * The migration, as its runbook:
 *
 *   0. scheduled start → 1. precheck → 2. snapshot → 3. pre-data schema
 *   → 4. data: copy tables (child workflow, in parallel), sequences → release the snapshot
 *   → 5. post-data (indexes, constraints, triggers), analyze, side by side with 6. validation
 *   → renames → [7. incremental: stream changes (child workflow) until cutover] → 8. report
 *
 * Each step is one awaited function below, or in the file named next to it. Rows never pass
 * through here: activities stream them between the databases. This workflow keeps only names,
 * counts and states, and carries connection references, never passwords.
 *
 * Every command this code issues (activities, timers, child workflows, signals, markers) is
 * replayed against recorded histories by test/replay.test.ts: the order of the awaits below is
 * part of running migrations' histories. Change it behind `patched()` (test/histories/README.md).
 */
import { allHandlersFinished, ApplicationFailure, CancellationScope, condition, deprecatePatch, isCancellation, setCurrentDetails, setHandler, sleep } from '@temporalio/workflow';
import { FailureType } from '../common/failure-types';
import type { LargeObjectListing } from '../common/large-objects';
import type { SnapshotReady } from '../common/messages';
import type { MigrationReport, TableRef } from '../common/plan';
import { ignoredNotFoundNote, precheckStopMessage, type PrecheckFacts } from '../common/precheck';
import type { MigrationSpec } from '../common/spec';
import { splitThresholdBytes } from '../common/table-split';
import { completedDetails } from './completed-details';
import { DataPhase } from './copy-data';
import { CutoverRequests } from './cutover';
import { failureType, rootMessage } from './failures';
import { LargeObjectProgress } from './large-object-progress';
import {
  CUTOVER_SIGNAL_DESCRIPTION,
  CUTOVER_UPDATE_DESCRIPTION,
  cutoverSignal,
  INTERNAL_MESSAGE,
  cutoverUpdate,
  largeObjectProgressSignal,
  largeObjectsCopiedSignal,
  progressQuery,
  snapshotReadySignal,
  streamOutlookSignal,
  tableProgressSignal,
  unitCopiedSignal,
  VERIFY_UPDATE_DESCRIPTION,
  verifyUpdate,
  rollbackUpdate,
  finishUpdate,
  ROLLBACK_UPDATE_DESCRIPTION,
  FINISH_UPDATE_DESCRIPTION,
} from './messages';
import { acts, dumpSchemaEarly } from './migration-activities';
import { buildReport } from './migration-report';
import { MigrationRun, type MigrationInput } from './migration-run';
import { precheckInput } from './precheck';
import { SnapshotLease } from './snapshot-lease';
import { Verification } from './verification';
import { WayBack } from './way-back';
import type { WayBackOutcome } from '../common/way-back';
import { verifiedRefusal, type VerifyRequest } from '../common/verification';
import { releaseSource, streamOperations, streamStart, streamUntilCutover } from './stream-until-cutover';
import { largeObjectFailure, validateObjects, validateTables, validationFailure, warnSkippedValidation, type TablesChecked } from './validation';

export type { MigrationInput } from './migration-run';

export async function migrationWorkflow({ spec, ...input }: MigrationInput): Promise<MigrationReport> {
  const run = new MigrationRun(spec, input);
  const { state, control } = run;
  const lease = new SnapshotLease();
  const data = new DataPhase(run, lease);
  const cutover = new CutoverRequests(run);
  // The way back after cutover (incremental.wayBack): ./way-back.ts.
  const wayBack = new WayBack(run);
  // Online verification while streaming (pgferry verify, incremental.verify): ./verification.ts.
  const verification = run.names
    ? new Verification(
        {
          ...run.endpoints, migrationId: run.id, names: run.names, objects: spec.objects, conflicts: spec.conflicts,
          lanes: Math.min(spec.parallelism.tables, 4), schedule: spec.incremental.verify,
        },
        () => run.refreshDetails(),
        () => control.state.paused,
      )
    : undefined;
  state.verification = verification?.view;

  // The message API (./messages.ts, ./control-messages.ts), declared before any step runs.
  control.install(); // pause, resume and throttle (Updates), forwarded to the child doing the work
  setHandler(progressQuery, () => state.progress());
  setHandler(snapshotReadySignal, (ready) => {
    lease.ready(ready);
    state.snapshot = ready.name;
  }, { description: INTERNAL_MESSAGE });
  setHandler(tableProgressSignal, (updates) => {
    state.applyProgress(updates, Date.now());
    run.refreshDetails();
  }, { description: INTERNAL_MESSAGE });
  setHandler(streamOutlookSignal, (outlook) => {
    state.streamOutlook = outlook;
    run.showLag(outlook.lagSeconds);
    run.refreshDetails();
  }, { description: INTERNAL_MESSAGE });
  setHandler(unitCopiedSignal, ({ generation, results }) => data.unitCopied(generation, results), { description: INTERNAL_MESSAGE });
  setHandler(largeObjectsCopiedSignal, ({ generation, result }) => {
    if (!data.isCurrent(generation)) return;
    state.largeObjects?.record(result);
    run.refreshDetails();
  }, { description: INTERNAL_MESSAGE });
  setHandler(largeObjectProgressSignal, (update) => {
    if (data.isCurrent(update.generation)) state.largeObjects?.update(update);
  }, { description: INTERNAL_MESSAGE });
  setHandler(cutoverSignal, (request) => cutover.requestBySignal(request), { description: CUTOVER_SIGNAL_DESCRIPTION });
  setHandler(cutoverUpdate, (request) => cutover.request(request), {
    description: CUTOVER_UPDATE_DESCRIPTION,
    validator: (request) => {
      cutover.validate(request);
      if (request?.requireVerified) {
        const since = request.requireVerified;
        const refusal = verifiedRefusal(verification?.view, since.sinceMs, since.since ?? (since.sinceMs !== undefined ? new Date(since.sinceMs).toISOString() : 'the start'));
        if (refusal) throw new Error(`--require-verified: ${refusal}; nothing was changed`);
      }
    },
  });
  setHandler(rollbackUpdate, (_request) => wayBack.rollback(), { description: ROLLBACK_UPDATE_DESCRIPTION, validator: (_request) => wayBack.validate('rollback') });
  setHandler(finishUpdate, () => wayBack.finish(), { description: FINISH_UPDATE_DESCRIPTION, validator: () => wayBack.validate('finish') });
  setHandler(verifyUpdate, (request) => verification!.round(request ?? {}), {
    description: VERIFY_UPDATE_DESCRIPTION,
    validator: (_request: VerifyRequest) => {
      if (!verification) throw new Error('this migration has no change stream (its types do not include incremental): verification compares source and target while changes stream');
      if (cutover.pending) throw new Error('cutover was requested: verification is over (the cutover validates source against target)');
      if (state.phase !== 'streaming') throw new Error(`the migration is in phase ${state.phase}; verification runs while it streams changes`);
      if (control.state.paused) throw new Error('the migration is paused: the change stream must run for verification to hold it at a position (pgferry resume first)');
    },
  });

  /** A step read under a snapshot that was lost: it runs again under the next one. */
  const readAgain = (lost: string) => run.warn(`the source snapshot ${lost} was lost (holder restarted); work read under it is redone`);

  try {
    // 0. A scheduled start waits on a durable timer: cancelled meanwhile, it leaves nothing behind.
    if (spec.startAt) await waitUntilStart(run, spec.startAt);
    await control.safePoint();
    const earlyDump = startDuringPrecheck(run, lease);

    // 1. Precheck: nothing is written before it passes.
    const facts = await precheck(run);

    // 2. One exported snapshot for everything read from the source; the tables (and large
    // objects) are listed under it while pre-data runs.
    await takeSnapshot(run, lease);
    const listing = listSource(run, lease, readAgain);
    const schema = schemaOptions(facts);

    // 3. Pre-data schema: types, tables, views, functions... with no indexes yet.
    if (run.withSchema) await applyPreData(run, lease, schema, earlyDump, listing.objects, readAgain);
    const tables = await listing.tables;
    state.setTables(tables);
    const objectsListed = await listing.objects;
    if (objectsListed?.objects) state.largeObjects = new LargeObjectProgress(objectsListed);

    // 4. Data: every table under the same snapshot, in parallel (./copy-data.ts).
    let copiedUnder: SnapshotReady | undefined;
    if (run.withData) {
      await control.safePoint();
      run.enter('data');
      copiedUnder = await data.copy(tables);
    }
    // The snapshot is no longer needed: release it while the indexes build (awaited below).
    lease.release();
    await control.safePoint();

    // 5. Post-data and 6. validation, side by side.
    const checked = await postDataAndValidation(run, schema, tables, copiedUnder);
    // Renames last: pg_dump's post-data statements name objects by their source names.
    if (run.withSchema && renamesSomething(spec)) await acts.applyRenames({ ...run.endpoints, objects: spec.objects, conflicts: spec.conflicts });
    state.markAll(['copied', 'indexed', 'pending'], 'done');
    await lease.ended(); // the snapshot holder has closed its connection

    // 7. Incremental: stream changes from the slot whose snapshot the copy read, until cutover
    // (./stream-until-cutover.ts).
    const readFrom = streamStart(lease, data.copies, copiedUnder);
    const cutoverResult = run.names && readFrom ? await streamUntilCutover(run, run.names, readFrom, tables, cutover, verification, wayBack) : undefined;

    // 7b. The way back (incremental.wayBack): fallback-ready, streaming target → source, until
    // `pgferry rollback` or `pgferry finish` (./way-back.ts).
    const wayBackOutcome = cutoverResult?.wayBackNotPrepared ? { outcome: 'not-prepared' as const, why: cutoverResult.wayBackNotPrepared } : await wayBack.offer();

    // 8. Report.
    return await finish(run, tables, checked, cutoverResult, verification, wayBackOutcome);
  } catch (err) {
    const cancelled = isCancellation(err);
    state.closePhase(Date.now());
    state.phase = cancelled ? 'cancelled' : 'failed';
    if (!cancelled && failureType(err) !== FailureType.PrecheckFailed) run.warn(`failed: ${rootMessage(err)}`);
    run.refreshDetails();
    // Release the source before the workflow closes, even when it was cancelled.
    await CancellationScope.nonCancellable(async () => {
      lease.release();
      await lease.ended();
      if (run.names && run.replicationCreated) await releaseSource(run, run.names);
      if (wayBack.prepared) {
        await releaseWayBack(run, wayBack);
        // The cutover was done: the target is live, and pgferry's bookkeeping goes as at a normal end.
        await acts.dropBookkeeping({ target: spec.target, retry: spec.retry }).catch(() => undefined);
      }
    });
    const pending = cutover.pending;
    if (pending && !pending.result) {
      pending.failure ??= rootMessage(err);
      await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
    }
    throw err;
  }
}

/** The way back's slot and publication on the target, and its origin on the source, dropped (or named for dropping by hand). */
async function releaseWayBack(run: MigrationRun, wayBack: WayBack): Promise<void> {
  try {
    await wayBack.release();
  } catch (err) {
    const names = wayBack.names!;
    run.warn(`could not drop the way back's slot ${names.slotPrefix} and publication ${names.publication} on the target (and origin ${names.origin} on the source): ${rootMessage(err)}; drop them by hand or the target keeps WAL`);
  }
}

/** 0. Sleeps until `startAt` (at once if it has passed); the time waited is not the migration's. */
async function waitUntilStart(run: MigrationRun, startAt: string): Promise<void> {
  const { state } = run;
  const ms = Date.parse(startAt) - Date.now();
  if (ms <= 0) return;
  state.phase = 'scheduled';
  run.refreshDetails();
  await sleep(ms, { summary: `scheduled start at ${startAt}` });
  state.enter('precheck', Date.now());
  state.startedAt = Date.now();
}

/**
 * Work that only reads the source starts while the precheck runs: a full migration's snapshot
 * (only read from; an incremental one comes with a replication slot, a change on the source
 * that waits for the precheck), and the schema dump under it. The dump is best effort: without
 * it (failed, or another worker runs pre-data) pre-data dumps itself. Returns the dump under way.
 */
function startDuringPrecheck(run: MigrationRun, lease: SnapshotLease): Promise<unknown> | undefined {
  // Every recorded history ran the patched() branches of 'overlapped-start' and
  // 'early-schema-dump' (the precheck first and the rest after is gone): their markers stay so
  // that workers still running the patched() code replay runs of this code.
  deprecatePatch('overlapped-start');
  if (run.incremental) return undefined;
  holdSnapshot(run, lease);
  if (!run.withSchema) return undefined;
  deprecatePatch('early-schema-dump');
  return lease
    .current()
    .then((s) => dumpSchemaEarly({ source: run.spec.source, retry: run.spec.retry, snapshot: s }))
    .catch(() => undefined);
}

/**
 * 1. The precheck: any fail, or a warning the spec does not acknowledge, stops the migration
 * here, before anything is written. Then the target database, when it is missing and may be
 * created.
 */
async function precheck(run: MigrationRun): Promise<PrecheckFacts> {
  const { spec } = run;
  run.refreshDetails();
  const report = await acts.precheck(precheckInput(spec));
  // Warnings and notes alike stay in the report (a note is worth knowing, never in the way).
  for (const item of report.items) if (item.status === 'warning' || item.status === 'note') run.warn(`${item.id}: ${item.title} ${item.advice}`);
  if (report.ignoredNotFound.length) run.warn(ignoredNotFoundNote(report));
  const stop = precheckStopMessage(report);
  if (stop) throw ApplicationFailure.nonRetryable(stop, FailureType.PrecheckFailed, report.items.filter((i) => i.status !== 'pass'));
  run.keepOwnership = report.facts.keepOwnership;
  run.captureDdl = run.names !== undefined && report.facts.ddlCapture === true;
  if (report.facts.createTargetDatabase) await acts.createTargetDatabase({ source: spec.source, target: spec.target, retry: spec.retry });
  return report.facts;
}

/** 2. The snapshot: for an incremental migration, the publication (and DDL capture) first, then the slot that exports it. */
async function takeSnapshot(run: MigrationRun, lease: SnapshotLease): Promise<void> {
  const { spec, names } = run;
  await run.control.safePoint();
  run.enter('snapshot');
  if (names) {
    // The publication first: pgoutput must find it as of the slot's consistent point.
    run.replicationCreated = true;
    ({ publications: run.publications } = await acts.createPublication({
      source: spec.source,
      retry: spec.retry,
      names,
      operations: streamOperations(spec),
      objects: spec.objects,
      conflicts: spec.conflicts,
      // The DDL capture before the slot too: DDL after the copy's snapshot is in the stream.
      ...(run.captureDdl ? { captureDdl: run.captureDdl } : {}),
    }));
  }
  if (!lease.taken) holdSnapshot(run, lease);
}

/** Starts the snapshot holder (./snapshot-lease.ts); with DDL replication it also makes source DDL wait while the copy runs. */
function holdSnapshot(run: MigrationRun, lease: SnapshotLease): void {
  lease.take({ source: run.spec.source, retry: run.spec.retry, replication: run.names, ...(run.captureDdl ? { ddlGate: true } : {}) });
}

/** The tables (with the splits of big ones) and the large objects to copy, listed under the snapshot; awaited later. */
function listSource(run: MigrationRun, lease: SnapshotLease, readAgain: (lost: string) => void): { tables: Promise<TableRef[]>; objects?: Promise<LargeObjectListing> } {
  const { spec } = run;
  // Big tables are split into chunks (spec.copy is absent in histories from before: none).
  const splitting = spec.copy ? { splitLargerThan: splitThresholdBytes(spec.copy) } : {};
  const tables = lease.under((s) => acts.listTables({ ...run.endpoints, ...selection(spec), ...splitting, snapshot: s }), readAgain);
  tables.catch(() => undefined); // awaited by the caller; failures surface there
  const objects = run.withLargeObjects ? lease.under((s) => acts.listLargeObjects({ source: spec.source, retry: spec.retry, snapshot: s }), readAgain) : undefined;
  objects?.catch(() => undefined); // awaited by the caller
  return { tables, ...(objects ? { objects } : {}) };
}

type SchemaOptions = { excludeTables: PrecheckFacts['conflictingTables']; keepOwnership: boolean };

/** What pre-data and post-data leave out or keep, from the precheck. */
function schemaOptions(facts: PrecheckFacts): SchemaOptions {
  // a conflict passes the precheck only under conflicts: ignore (for all or for that table)
  return { excludeTables: facts.conflictingTables, keepOwnership: facts.keepOwnership };
}

function selection(spec: MigrationSpec) {
  return { objects: spec.objects, conflicts: spec.conflicts };
}

/** 3. Pre-data: the schema dump's pre-data section under the snapshot (taken early, or now). */
async function applyPreData(
  run: MigrationRun,
  lease: SnapshotLease,
  schema: SchemaOptions,
  earlyDump: Promise<unknown> | undefined,
  objectListing: Promise<LargeObjectListing> | undefined,
  readAgain: (lost: string) => void,
): Promise<void> {
  await run.control.safePoint(); // the snapshot stays held while paused
  await earlyDump; // a dump under way finishes sooner than a new one
  run.enter('pre-data');
  // The dump's large objects are left out: the copy creates them (with their metadata), or none are migrated.
  const largeObjects = run.largeObjectsChosen ? { skipLargeObjects: run.withLargeObjects ? ((await objectListing)?.objects ?? 0) > 0 : true } : {};
  const preData = await lease.under((s) => acts.applyPreData({ ...run.endpoints, ...schema, ...selection(run.spec), ...largeObjects, snapshot: s }), readAgain);
  if (preData.leftOut?.length) run.warn(`left out because they depend on something not migrated: ${preData.leftOut.join('; ')}`);
  if (preData.notSelected?.length) run.warn(`not selected (table-level selection) in the schemas of selected tables: ${preData.notSelected.join('; ')}`);
}

/**
 * 5. Post-data (foreign keys, triggers, rules, matview refreshes), then statistics; and
 * 6. validation against what was read under the snapshot (./validation.ts). They run side by
 * side: row counts take locks that foreign key checks and index builds do not wait for.
 */
async function postDataAndValidation(run: MigrationRun, schema: SchemaOptions, tables: TableRef[], copiedUnder: SnapshotReady | undefined): Promise<TablesChecked> {
  const { spec, state } = run;
  const validation = run.withData ? validateTables(run, tables) : Promise.resolve<TablesChecked>({ checked: 0, mismatches: [] });
  validation.catch(() => undefined); // awaited below; failures surface there
  const objectValidation = state.largeObjects && copiedUnder ? validateObjects(run, state.largeObjects, copiedUnder.name) : undefined;
  objectValidation?.catch(() => undefined); // awaited below
  if (run.withSchema) {
    run.enter('post-data');
    await acts.applyPostData({ ...run.endpoints, ...schema, jobs: spec.parallelism.tables, indexBuild: spec.indexBuild });
    state.markAll(['copied'], 'indexed');
    run.refreshDetails();
    await acts.analyzeTarget({ target: spec.target, retry: spec.retry, jobs: spec.parallelism.tables });
  }
  if (run.withData) run.enter('validation');
  const checked = await validation;
  if (run.withData) {
    warnSkippedValidation(run, tables);
    if (checked.mismatches.length) {
      for (const m of checked.mismatches) state.markFailed(m, `validation: expected ${m.expectedRows} rows, found ${m.actualRows}`);
      throw validationFailure(checked.mismatches);
    }
  }
  const objectsChecked = await objectValidation;
  if (objectsChecked && !objectsChecked.ok) throw largeObjectFailure('validation', objectsChecked);
  return checked;
}

/** Whether objects.rename or a per-table rename / column map changes any name. */
function renamesSomething(spec: MigrationSpec): boolean {
  const tables = Object.values(spec.objects.tables);
  return Object.keys(spec.objects.rename).length > 0 || tables.some((t) => t.rename || (t.columns && !Array.isArray(t.columns)));
}

/** 8. The bookkeeping schema dropped from the target, and the report. */
async function finish(
  run: MigrationRun,
  tables: TableRef[],
  checked: TablesChecked,
  cutoverResult: MigrationReport['cutover'],
  verification: Verification | undefined,
  wayBack: WayBackOutcome | undefined,
): Promise<MigrationReport> {
  const { spec, state } = run;
  await acts.dropBookkeeping({ target: spec.target, retry: spec.retry });
  state.closePhase(Date.now());
  run.enter('done');
  await condition(allHandlersFinished); // the cutover update returns its result first
  const report: MigrationReport = {
    ...buildReport(spec, state, tables, checked, cutoverResult),
    ...(verification?.used ? { verification: verification.view } : {}),
    ...(wayBack ? { wayBack } : {}),
  };
  // The completed page: downtime, validation per table, every warning (when a worker answers).
  setCurrentDetails(completedDetails(report));
  return report;
}
