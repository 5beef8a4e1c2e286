/**
 * The migration, as its runbook:
 *
 *   precheck → snapshot → pre-data schema → copy tables (child workflow, in parallel)
 *   → sequences → release snapshot → post-data (indexes, constraints, triggers) → analyze
 *   → validation → [incremental: stream changes (child workflow) → cutover] → report
 *
 * Rows never pass through here: activities stream them between the databases. This workflow
 * keeps only names, counts and states, and carries connection references, never passwords.
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  type ChildWorkflowHandle,
  condition,
  getExternalWorkflowHandle,
  startChild,
  isCancellation,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { Endpoints } from '../activities/deps';
import type { SnapshotReady } from '../common/messages';
import { groupIntoUnits } from '../common/units';
import { describeConnection } from '../common/connection';
import { FailureType } from '../common/failure-types';
import { tableKey, type RedoneWork, type CutoverRequest, type CutoverResult, type MigrationReport, type TableRef, type TableValidation } from '../common/plan';
import { ignoredNotFoundNote, precheckStopMessage } from '../common/precheck';
import { replicationNames, type ReplicationNames } from '../common/replication-names';
import type { MigrationSpec } from '../common/spec';
import type { OperationsConfig } from '../common/stream';
import * as options from './activity-options';
import type { PendingCutover } from './cutover';
import { streamChangesWorkflow } from './stream-changes';
import { ConsoleAttributes } from './console-attributes';
import { completedDetails } from './completed-details';
import { copyTablesWorkflow } from './copy-tables';
import { precheckInput } from './precheck';
import { failureType, isSnapshotLost, rereadWork, rootMessage } from './failures';
import { MigrationState } from './migration-state';
import { PhaseMetric } from './phase-metric';
import { mapLimited } from './map-limited';
import { ControlState } from './control-state';
import { RuntimeControl } from './runtime-control';
import { unlimited } from '../common/throttle';
import { copySnapshotSignal, cutoverSignal, cutoverUpdate, databasePhaseSignal, largeObjectProgressSignal, largeObjectsCopiedSignal, progressQuery, snapshotReadySignal, stopAtSignal, streamOutlookSignal, tableProgressSignal, unitCopiedSignal } from './messages';
import { largeObjectsWanted, type LargeObjectValidation } from '../common/large-objects';
import { LargeObjectProgress } from './large-object-progress';
import { splitThresholdBytes } from '../common/table-split';
import { formatBytes } from '../common/format';
import { CopiedUnits } from './copied-units';
import { buildSyncPlan, earliestLsn, type SyncPlan } from '../common/sync-plan';
import { ddlCaptureNames } from '../common/ddl';
import { Verification } from './verification';
import { verifiedRefusal, type VerifyRequest } from '../common/verification';
import { verifyUpdate } from './messages';

// proxyActivities returns a Proxy: take the functions out by name (spreading it yields nothing).
const { listTables, copySequences, dropBookkeeping, sourceChangedBetween } = proxyActivities<Activities>(options.short);
const { holdSnapshot, applyPreData, applyPostData, applyRenames, analyzeTarget, validateTables } = proxyActivities<Activities>(options.long);
const { precheck } = proxyActivities<Activities>(options.precheck);
const { createTargetDatabase } = proxyActivities<Activities>(options.short);
const { createPublication, openStream, lockSource, emitCutoverMarker, closeStream, compareTables } = proxyActivities<Activities>(options.short);
const { listLargeObjects } = proxyActivities<Activities>(options.short);
const { validateLargeObjects, syncLargeObjects } = proxyActivities<Activities>(options.long);
const acts = {
  listTables, copySequences, dropBookkeeping, sourceChangedBetween, holdSnapshot, applyPreData, applyPostData, applyRenames, analyzeTarget, validateTables, precheck, createTargetDatabase,
  createPublication, openStream, lockSource, emitCutoverMarker, closeStream, compareTables, listLargeObjects, validateLargeObjects, syncLargeObjects,
};
/** The schema dump taken during the precheck: one attempt, no more (pre-data dumps itself without it). */
const { dumpSchemaEarly } = proxyActivities<Activities>({ startToCloseTimeout: '30 minutes', retry: { maximumAttempts: 1 } });
/** Cleanup must end even if the source stays unreachable: then the report names what to drop by hand. */
const { dropReplication } = proxyActivities<Activities>({ ...options.short, retry: { ...options.short.retry, maximumAttempts: 20, maximumInterval: '15s' } });

export interface MigrationInput {
  spec: MigrationSpec;
  /** Set when this migration is one database of several (workflows/databases.ts): it reports its phases there. */
  parentId?: string;
  /** The namespace has pgferry's search attributes: keep them current (common/search-attributes.ts). */
  searchAttributes?: boolean;
}

/** Tables validated per activity call, to keep payloads small for very large schemas. */
const VALIDATION_BATCH = 500;

export async function migrationWorkflow({ spec, parentId, searchAttributes }: MigrationInput): Promise<MigrationReport> {
  const state = new MigrationState(Date.now());
  const phaseMetric = new PhaseMetric();
  const attributes = new ConsoleAttributes(searchAttributes === true);
  state.workflowId = workflowInfo().workflowId;
  const endpoints: Endpoints = { source: spec.source, target: spec.target, retry: spec.retry };
  const withSchema = spec.types.includes('schema');
  const withData = spec.types.includes('full');
  const incremental = spec.types.includes('incremental');
  // Large objects (absent objects.largeObjects: a history from before they were copied, which copied none).
  const largeObjectsChosen = typeof spec.objects.largeObjects === 'boolean';
  const withLargeObjects = largeObjectsChosen && largeObjectsWanted(spec);
  let keepOwnership = true;
  const names: ReplicationNames | undefined = incremental ? replicationNames(workflowInfo().workflowId) : undefined;
  let replicationCreated = false;
  /** incremental.ddl: DDL on the source is captured and replicated (the precheck says whether it can be). */
  let captureDdl = false;
  let publications: string[] = [];
  const snapshots = new Map<string, SnapshotReady>();
  let cutover: PendingCutover | undefined;
  let snapshot: SnapshotReady | undefined;
  let holderEnded = false;
  /** Each run of the data phase (a new one after a lost snapshot), and the snapshot it reads under. */
  let generation = 0;
  const generationSnapshots = new Map<number, string>();
  /** The copies done, and under which snapshot (set when the data phase starts). */
  let copies: CopiedUnits | undefined;
  // pause, resume and throttle (Updates), forwarded to the child doing the work
  const control = new RuntimeControl(new ControlState(spec.throttle ?? unlimited(), spec.startAt), () => state.phase, refreshDetails);
  state.control = control.state;
  control.install();
  // Online verification while streaming (pgferry verify, incremental.verify).
  const verification = names
    ? new Verification(
        {
          ...endpoints, migrationId: workflowInfo().workflowId, names, objects: spec.objects, conflicts: spec.conflicts,
          lanes: Math.min(spec.parallelism.tables, 4), schedule: spec.incremental.verify,
        },
        refreshDetails,
        () => control.state.paused,
      )
    : undefined;
  state.verification = verification?.view;
  setHandler(verifyUpdate, (request) => verification!.round(request ?? {}), {
    validator: (_request: VerifyRequest) => {
      if (!verification) throw new Error('this migration has no change stream (its types do not include incremental): verification compares source and target while changes stream');
      if (cutover) throw new Error('cutover was requested: verification is over (the cutover validates source against target)');
      if (state.phase !== 'streaming') throw new Error(`the migration is in phase ${state.phase}; verification runs while it streams changes`);
      if (control.state.paused) throw new Error('the migration is paused: the change stream must run for verification to hold it at a position (pgferry resume first)');
    },
  });

  setHandler(progressQuery, () => state.progress());
  setHandler(snapshotReadySignal, (ready) => {
    snapshot = ready;
    snapshots.set(ready.name, ready);
    state.snapshot = ready.name;
  });
  setHandler(tableProgressSignal, (updates) => {
    state.applyProgress(updates, Date.now());
    refreshDetails();
  });
  setHandler(streamOutlookSignal, (outlook) => {
    state.streamOutlook = outlook;
    attributes.lag(outlook.lagSeconds);
    refreshDetails();
  });
  setHandler(unitCopiedSignal, ({ generation: from, results }) => {
    if (from !== generation) return; // from a data phase that was restarted
    state.recordCopied(results, Date.now());
    copies?.record(results, generationSnapshots.get(from)!);
    refreshDetails();
  });
  setHandler(largeObjectsCopiedSignal, ({ generation: from, result }) => {
    if (from !== generation) return;
    state.largeObjects?.record(result);
    refreshDetails();
  });
  setHandler(largeObjectProgressSignal, (update) => {
    if (update.generation === generation) state.largeObjects?.update(update);
  });

  // The same request from a parent migration of several databases (it cuts all of them over at once).
  // Also sent by hand (`temporal workflow signal`, the Web UI): a refusal is said in the details and report.
  setHandler(cutoverSignal, (request) => {
    if (incremental && !cutover && state.phase === 'streaming') {
      // Sent by hand, the input may be missing: no input is no source lock.
      cutover = { request: { lockSource: request?.lockSource === true }, requestedAt: Date.now() };
      return;
    }
    const why = !incremental ? 'this migration has no change stream' : cutover ? 'cutover was already requested' : `the migration is in phase ${state.phase}, cutover is possible once it streams changes`;
    state.warnings.push(`cutoverRequest signal ignored: ${why}`);
    refreshDetails();
  });
  setHandler(
    cutoverUpdate,
    async (request) => {
      cutover = { request, requestedAt: Date.now() };
      await condition(() => cutover?.result !== undefined || cutover?.failure !== undefined);
      if (cutover.failure) throw ApplicationFailure.nonRetryable(`cutover failed: ${cutover.failure}`, FailureType.CutoverFailed);
      return cutover.result!;
    },
    {
      validator: (request: CutoverRequest) => {
        if (!incremental) throw new Error('this migration has no change stream (its types do not include incremental): there is nothing to cut over');
        if (cutover) throw new Error('cutover was already requested');
        if (state.phase !== 'streaming') throw new Error(`the migration is in phase ${state.phase}; cutover is possible once it streams changes (after the full copy, post-data and validation)`);
        if (request?.requireVerified) {
          const since = request.requireVerified;
          const refusal = verifiedRefusal(verification?.view, since.sinceMs, since.since ?? (since.sinceMs !== undefined ? new Date(since.sinceMs).toISOString() : 'the start'));
          if (refusal) throw new Error(`--require-verified: ${refusal}; nothing was changed`);
        }
      },
    },
  );

  function refreshDetails() {
    setCurrentDetails(state.details());
    phaseMetric.show(state.phase);
    attributes.update(state.phase, state.progress().percent);
  }
  function enter(phase: MigrationState['phase']) {
    state.enter(phase, Date.now());
    refreshDetails();
    tellParent(phase);
  }
  function tellParent(phase: MigrationState['phase']) {
    if (!parentId) return;
    getExternalWorkflowHandle(parentId)
      .signal(databasePhaseSignal, { workflowId: workflowInfo().workflowId, phase })
      .catch(() => undefined); // the parent only displays it
  }

  /** Waits for a snapshot other than `stale`; fails if the holder gave up for good. */
  async function currentSnapshot(stale?: string): Promise<string> {
    await condition(() => (snapshot !== undefined && snapshot.name !== stale) || holderEnded);
    if (!snapshot || snapshot.name === stale) throw ApplicationFailure.nonRetryable('the snapshot holder stopped', FailureType.SnapshotLost);
    return snapshot.name;
  }

  /**
   * Runs a step that reads under the snapshot, again under a new one if the old one is lost
   * (`onLost` hears of it; by default a warning says the step is done again).
   */
  async function underSnapshot<T>(step: (snapshotName: string) => Promise<T>, onLost?: (lost: string, err: unknown) => void): Promise<T> {
    let name = await currentSnapshot();
    for (;;) {
      try {
        return await step(name);
      } catch (err) {
        if (!isSnapshotLost(err)) throw err;
        if (onLost) onLost(name, err);
        else state.warnings.push(`the source snapshot ${name} was lost (holder restarted); work read under it is redone`);
        name = await currentSnapshot(name);
      }
    }
  }

  /**
   * The data phase lost its snapshot (`lost`) and goes on under `next`: decides which copies
   * are kept. Incremental: all but tables split by blocks with chunks missing; the change stream
   * brings each kept part to the same point from its own snapshot's position. Full: all, when
   * nothing was committed on the source between the snapshots; else none.
   */
  async function keepAfterLoss(copies: CopiedUnits, lost: string, next: string, inFlight: RedoneWork): Promise<void> {
    let kept: string;
    if (!patched('keep-after-loss')) {
      // A migration that lost its snapshot before this deploy replays as it ran: all redone.
      copies.forgetAll();
      kept = 'work read under it is redone';
    } else if (names) {
      copies.forgetPartialBlockTables();
      kept = 'the copies finished under it are kept (the change stream applies their changes from its position)';
    } else if (await sourceChangedSince(copies.snapshots(), next)) {
      copies.forgetAll();
      kept = 'the source took writes since, so the copies finished under it are not kept';
    } else {
      kept = 'nothing was committed on the source since, so the copies finished under it are kept';
    }
    const redone = state.restartCopies((t, chunk) => copies.has(t, chunk), inFlight);
    state.warnings.push(`the source snapshot ${lost} was lost (holder restarted): ${kept}; copied again: ${redone.tables} tables (${formatBytes(redone.bytes)})`);
    refreshDetails();
  }

  /**
   * While the copy runs: when the snapshot is lost and the holder exports a new one, tells the
   * copy to go on under it — copies running on live workers finish under the old one (they
   * imported it), those that could not start or died with a worker run under the new one — or,
   * when the target could not be made exact that way, to stop (the data phase then starts again
   * and keeps what it can: keepAfterLoss).
   */
  async function followSnapshots(copies: CopiedUnits, copy: ChildWorkflowHandle<typeof copyTablesWorkflow>, first: string, ended: () => boolean): Promise<void> {
    const used = [first];
    for (;;) {
      const current = used[used.length - 1];
      await condition(() => ended() || holderEnded || (snapshot !== undefined && snapshot.name !== current));
      if (ended()) return;
      const next = snapshot && snapshot.name !== current ? snapshot.name : undefined;
      const kept = next ? await whyGoOn(copies, used, next) : undefined;
      if (ended()) return;
      if (!next || !kept) {
        await copy.signal(copySnapshotSignal, { stop: true });
        return;
      }
      state.warnings.push(`the source snapshot ${current} was lost (holder restarted): ${kept}; the copy went on under ${next}, reading again only what was in flight on a dead worker`);
      refreshDetails();
      used.push(next);
      await copy.signal(copySnapshotSignal, { snapshot: next, keepRecordsFrom: used.slice(0, -1) });
    }
  }

  /** Why the copy may go on under `next` keeping what was read under `used` (undefined: it may not). */
  async function whyGoOn(copies: CopiedUnits, used: string[], next: string): Promise<string | undefined> {
    if (names) {
      // A table split by blocks cannot have its chunks read under two snapshots.
      return copies.hasIncompleteBlockTables() ? undefined : 'what was read under it is kept (the change stream applies its changes from its position)';
    }
    return (await sourceChangedSince(used, next)) ? undefined : 'nothing was committed on the source since, so what was read under it is kept';
  }

  /** Whether anything was committed on the source between any of `earlier` snapshots and `next` (unknown: yes). */
  async function sourceChangedSince(earlier: string[], next: string): Promise<boolean> {
    const to = snapshots.get(next)?.xids;
    for (const name of earlier) {
      const from = snapshots.get(name)?.xids;
      if (!from || !to) return true;
      const { changed } = await acts.sourceChangedBetween({ source: spec.source, retry: spec.retry, from, to });
      if (changed) return true;
    }
    return false;
  }

  /** The target's large objects against what the copy read from the source under the snapshot. */
  async function validateObjects(progress: LargeObjectProgress, snapshotName: string): Promise<LargeObjectValidation> {
    const result = await acts.validateLargeObjects({
      target: spec.target,
      retry: spec.retry,
      mode: spec.validation,
      migrationId: workflowInfo().workflowId,
      snapshot: snapshotName,
      expectedObjects: progress.copiedObjects(),
    });
    progress.validation = result;
    refreshDetails();
    return result;
  }

  /** Row counts (and checksums) of the target against the values read under the snapshot. */
  async function validate(tables: TableRef[]): Promise<{ checked: number; mismatches: TableValidation[] }> {
    const expected = tables
      .filter((t) => !t.preexisting)
      .map((t) => {
        const r = state.results.get(tableKey(t));
        return { schema: t.schema, name: t.name, rows: r?.rows ?? 0, checksum: r?.sourceChecksum };
      });
    const batches: (typeof expected)[] = [];
    for (let i = 0; i < expected.length; i += VALIDATION_BATCH) batches.push(expected.slice(i, i + VALIDATION_BATCH));
    const check = (tables: typeof expected) => acts.validateTables({ target: spec.target, retry: spec.retry, mode: spec.validation, tables });
    // Batches side by side, as many as tables are copied at once (histories from before run them one by one).
    const lanes = patched('parallel-validation') ? spec.parallelism.tables : 1;
    const results = (await mapLimited(batches, lanes, check)).flat();
    // Counted from the answers, so a batch that went missing could not pass as checked.
    return { checked: results.length, mismatches: results.filter((r) => !r.ok) };
  }

  const holderScope = new CancellationScope();
  let holder: Promise<void> | undefined;
  try {
    // 0. A scheduled start waits on a durable timer: cancelled meanwhile, it leaves nothing behind.
    if (spec.startAt) await waitUntilStart(spec.startAt);
    await control.safePoint();

    // A full migration's snapshot is only read from, so it is exported while the precheck runs;
    // an incremental one comes with a replication slot, a change on the source that waits for
    // the precheck. (Running histories from before keep their order.)
    const startHolder = () => {
      holder = holderScope.run(() => acts.holdSnapshot({ source: spec.source, retry: spec.retry, replication: names, ...(captureDdl ? { ddlGate: true } : {}) }));
      holder.then(
        () => (holderEnded = true),
        () => (holderEnded = true),
      );
    };
    const overlapped = patched('overlapped-start');
    if (overlapped && !names) startHolder();
    // Taking the schema dump only reads the source, under that snapshot: meanwhile too. Best
    // effort: without it (failed, or another worker runs pre-data) pre-data dumps itself.
    let earlyDump: Promise<unknown> | undefined;
    if (overlapped && !names && withSchema && patched('early-schema-dump')) {
      earlyDump = currentSnapshot()
        .then((s) => dumpSchemaEarly({ source: spec.source, retry: spec.retry, snapshot: s }))
        .catch(() => undefined);
    }

    // 1. Precheck: any fail, or a warning the spec does not acknowledge, stops here, before
    // anything is written. Then the target database, when it is missing and may be created.
    refreshDetails();
    const report = await acts.precheck(precheckInput(spec));
    // Warnings and notes alike stay in the report (a note is worth knowing, never in the way).
    for (const item of report.items) if (item.status === 'warning' || item.status === 'note') state.warnings.push(`${item.id}: ${item.title} ${item.advice}`);
    if (report.ignoredNotFound.length) state.warnings.push(ignoredNotFoundNote(report));
    const stop = precheckStopMessage(report);
    if (stop) throw ApplicationFailure.nonRetryable(stop, FailureType.PrecheckFailed, report.items.filter((i) => i.status !== 'pass'));
    keepOwnership = report.facts.keepOwnership;
    captureDdl = names !== undefined && report.facts.ddlCapture === true;
    if (report.facts.createTargetDatabase) await acts.createTargetDatabase({ source: spec.source, target: spec.target, retry: spec.retry });

    // 2. One exported snapshot for everything read from the source.
    await control.safePoint();
    enter('snapshot');
    if (names) {
      // The publication first: pgoutput must find it as of the slot's consistent point.
      replicationCreated = true;
      ({ publications } = await acts.createPublication({
        source: spec.source,
        retry: spec.retry,
        names,
        operations: streamOperations(spec),
        objects: spec.objects,
        conflicts: spec.conflicts,
        // The DDL capture before the slot too: DDL after the copy's snapshot is in the stream.
        ...(captureDdl ? { captureDdl } : {}),
      }));
    }
    if (!holder) startHolder();
    const selection = { objects: spec.objects, conflicts: spec.conflicts };
    // Big tables are split into chunks (spec.copy is absent in histories from before: none).
    const splitting = spec.copy ? { splitLargerThan: splitThresholdBytes(spec.copy) } : {};
    const listing = underSnapshot((s) => acts.listTables({ ...endpoints, ...selection, ...splitting, snapshot: s }));
    listing.catch(() => undefined); // awaited below; failures surface there
    const objectListing = withLargeObjects ? underSnapshot((s) => acts.listLargeObjects({ source: spec.source, retry: spec.retry, snapshot: s })) : undefined;
    objectListing?.catch(() => undefined); // awaited below
    const schemaOptions = {
      // a conflict passes the precheck only under conflicts: ignore (for all or for that table)
      excludeTables: report.facts.conflictingTables,
      keepOwnership: report.facts.keepOwnership,
    };
    // Pre-data does not need the list of tables: both read under the snapshot side by side.
    if (!overlapped) state.setTables(await listing);

    // 3. Pre-data schema: types, tables, views, functions... with no indexes yet.
    if (withSchema) {
      await control.safePoint(); // the snapshot stays held while paused
      await earlyDump; // a dump under way finishes sooner than a new one
      enter('pre-data');
      // The dump's large objects are left out: the copy creates them (with their metadata), or none are migrated.
      const largeObjects = largeObjectsChosen ? { skipLargeObjects: withLargeObjects ? ((await objectListing)?.objects ?? 0) > 0 : true } : {};
      const preData = await underSnapshot((s) => acts.applyPreData({ ...endpoints, ...schemaOptions, ...selection, ...largeObjects, snapshot: s }));
      if (preData.leftOut?.length) state.warnings.push(`left out because they depend on something not migrated: ${preData.leftOut.join('; ')}`);
      if (preData.notSelected?.length) state.warnings.push(`not selected (table-level selection) in the schemas of selected tables: ${preData.notSelected.join('; ')}`);
    }
    const tables = await listing;
    if (overlapped) state.setTables(tables);
    const objectsListed = await objectListing;
    if (objectsListed?.objects) state.largeObjects = new LargeObjectProgress(objectsListed);

    // 4. Data: every table under the same snapshot, in parallel.
    let copiedUnder: SnapshotReady | undefined;
    if (withData) {
      await control.safePoint();
      enter('data');
      const units = groupIntoUnits(tables);
      const copied = (copies = new CopiedUnits(units));
      let lost: { snapshot: string; reread: RedoneWork } | undefined;
      await underSnapshot(
        async (s) => {
          if (lost) await keepAfterLoss(copied, lost.snapshot, s, lost.reread);
          lost = undefined;
          generation += 1;
          generationSnapshots.set(generation, s);
          copiedUnder = snapshots.get(s);
          const restarted = generation > 1;
          // A lost snapshot need not stop the copy: it goes on under the next one (not with large
          // objects, which validation checks against one snapshot).
          const switchable = !state.largeObjects && patched('hot-snapshot-switch');
          const sent = control.state.copyControl();
          const copy = await startChild(copyTablesWorkflow, {
            workflowId: `${workflowInfo().workflowId}/copy-${generation}`,
            staticSummary: `copy ${tables.length} tables of ${describeConnection(spec.source)}`.slice(0, 200),
            args: [
              {
                ...endpoints,
                migrationId: workflowInfo().workflowId,
                generation,
                snapshot: s,
                units: copied.pending(),
                // Split tables that may hold rows not kept are emptied first (tables this migration created start empty).
                ...(restarted || !withSchema ? { emptyFirst: copied.toEmpty() } : {}),
                ...(restarted ? { keepRecordsFrom: copied.snapshots(), chunksDone: copied.chunksDone(), toFinish: copied.toFinish() } : {}),
                parallelism: spec.parallelism.tables,
                ...(switchable ? { switchable } : {}),
                checksum: spec.validation === 'checksum',
                withSchema,
                control: sent,
                indexBuild: spec.indexBuild,
                ...(state.largeObjects ? { largeObjects: state.largeObjects.batches, ...(withSchema ? { largeObjectMetadata: { keepOwnership } } : {}) } : {}),
              },
            ],
          });
          await control.attachCopy(copy, sent);
          let copyEnded = false;
          const following = switchable ? followSnapshots(copied, copy, s, () => copyEnded).catch(() => undefined) : undefined;
          try {
            await copy.result();
          } finally {
            copyEnded = true;
            control.detachCopy();
            await following;
          }
        },
        (snapshot, err) => (lost = { snapshot, reread: rereadWork(err) }),
      ).catch((err) => {
        if (!isCancellation(err)) state.markAll(['copying'], 'failed');
        throw err;
      });
      await acts.copySequences(endpoints);
    }
    // The snapshot is no longer needed: release it while the indexes build (awaited below).
    holderScope.cancel();
    await control.safePoint();

    // 5. Post-data (foreign keys, triggers, rules, matview refreshes), then statistics; and
    // 6. validation against what was read under the snapshot. They run side by side: row
    // counts take locks that foreign key checks and index builds do not wait for.
    const validation = withData ? validate(tables) : Promise.resolve({ checked: 0, mismatches: [] as TableValidation[] });
    validation.catch(() => undefined); // awaited below; failures surface there
    const objectValidation = state.largeObjects && copiedUnder ? validateObjects(state.largeObjects, copiedUnder.name) : undefined;
    objectValidation?.catch(() => undefined); // awaited below
    if (withSchema) {
      enter('post-data');
      await acts.applyPostData({ ...endpoints, ...schemaOptions, jobs: spec.parallelism.tables, indexBuild: spec.indexBuild });
      state.markAll(['copied'], 'indexed');
      refreshDetails();
      await acts.analyzeTarget({ target: spec.target, retry: spec.retry, jobs: spec.parallelism.tables });
    }
    if (withData) enter('validation');
    const { checked, mismatches } = await validation;
    if (withData) {
      skippedValidationWarning(state, tables);
      if (mismatches.length) {
        for (const m of mismatches) state.markFailed(m, `validation: expected ${m.expectedRows} rows, found ${m.actualRows}`);
        throw validationFailure(mismatches);
      }
    }
    const objectsChecked = await objectValidation;
    if (objectsChecked && !objectsChecked.ok) throw largeObjectFailure('validation', objectsChecked);
    // Renames last: pg_dump's post-data statements name objects by their source names.
    if (withSchema && renamesSomething(spec)) await acts.applyRenames({ ...endpoints, objects: spec.objects, conflicts: spec.conflicts });
    state.markAll(['copied', 'indexed', 'pending'], 'done');
    await holder?.catch(() => undefined); // the snapshot holder has closed its connection

    // 7. Incremental: stream changes from the slot whose snapshot the copy read, until cutover.
    let cutoverResult: CutoverResult | undefined;
    const readFrom = streamStart(copiedUnder);
    if (names && readFrom) {
      cutoverResult = await streamUntilCutover(names, readFrom.slot, readFrom.lsn, tables, readFrom.syncPlan);
    }

    await acts.dropBookkeeping({ target: spec.target, retry: spec.retry });
    state.closePhase(Date.now());
    enter('done');
    await condition(allHandlersFinished); // the cutover update returns its result first
    const finalReport: MigrationReport = { ...buildReport(spec, state, tables, checked, mismatches), cutover: cutoverResult, ...(verification?.used ? { verification: verification.view } : {}) };
    // The completed page: downtime, validation per table, every warning (when a worker answers).
    setCurrentDetails(completedDetails(finalReport));
    return finalReport;
  } catch (err) {
    const cancelled = isCancellation(err);
    state.closePhase(Date.now());
    state.phase = cancelled ? 'cancelled' : 'failed';
    if (!cancelled && failureType(err) !== FailureType.PrecheckFailed) state.warnings.push(`failed: ${rootMessage(err)}`);
    refreshDetails();
    // Release the source before the workflow closes, even when it was cancelled.
    await CancellationScope.nonCancellable(async () => {
      holderScope.cancel();
      await holder?.catch(() => undefined);
      if (names && replicationCreated) await releaseSource(names);
    });
    if (cutover && !cutover.result) {
      cutover.failure ??= rootMessage(err);
      await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
    }
    throw err;
  }

  /**
   * The streaming phase and the cutover: the stream runs in a child workflow until the
   * operator's cutover; then the stream stops exactly at a marker written into the source's
   * WAL, the target is fenced, sequences are set, and source and target are compared.
   */
  async function streamUntilCutover(names: ReplicationNames, slot: string, startLsn: string, tables: TableRef[], syncPlan: SyncPlan | undefined): Promise<CutoverResult> {
    const id = workflowInfo().workflowId;
    // Slots of snapshots that were lost along the way hold WAL for nothing: drop them.
    await dropReplication({ source: spec.source, retry: spec.retry, names, keepSlot: slot, dropPublication: false });
    await acts.openStream({ target: spec.target, retry: spec.retry, migrationId: id, slot, startLsn });
    enter('streaming');
    verification?.skipTables(tables.filter((t) => t.preexisting));
    const verifying = verification?.runSchedule();
    const sent = { paused: control.state.paused, limit: control.state.streamLimit() };
    const stream = await startChild(streamChangesWorkflow, {
      workflowId: `${id}/stream`,
      staticSummary: `stream changes ${describeConnection(spec.source)} → ${describeConnection(spec.target)}`.slice(0, 200),
      args: [
        {
          ...endpoints,
          migrationId: id,
          names,
          publications,
          slot,
          operations: streamOperations(spec),
          objects: spec.objects,
          conflicts: spec.conflicts,
          historyBudget: spec.incremental.historyBudget,
          ...sent,
          ...(syncPlan ? { syncPlan } : {}),
          reportTo: id,
          ...(captureDdl ? { ddlMessagePrefix: ddlCaptureNames(names).messagePrefix } : {}),
        },
      ],
    });
    await control.attachStream(stream, sent);
    state.streamWorkflowId = stream.workflowId;
    refreshDetails();
    let streamFailure: unknown;
    let streamEnded = false;
    const streamResult = stream.result();
    streamResult.then(
      () => (streamEnded = true),
      (err) => {
        streamEnded = true;
        streamFailure = err;
      },
    );
    await condition(() => cutover !== undefined || streamEnded);
    if (streamFailure) throw streamFailure;
    if (!cutover) throw ApplicationFailure.nonRetryable('the change stream ended before cutover', FailureType.StreamEnded);

    verification?.stop();
    await verifying;
    enter('cutover');
    const request = cutover.request;
    if (request.lockSource) await acts.lockSource({ source: spec.source, retry: spec.retry });
    const marker = await acts.emitCutoverMarker({ source: spec.source, retry: spec.retry, migrationId: id });
    await stream.signal(stopAtSignal, { lsn: marker.lsn });
    const streamed = await streamResult;
    // From here on nothing may write to the target: the fence closes before anything else.
    await acts.closeStream({ target: spec.target, retry: spec.retry, migrationId: id });
    const { sequences } = await acts.copySequences(endpoints);
    // Logical decoding carries no large-object changes: the target is brought up to the source's now.
    const largeObjects = withLargeObjects ? await acts.syncLargeObjects({ ...endpoints, mode: spec.validation, keepOwnership, migrationId: id }) : undefined;
    // Replicated DDL may have created, dropped or renamed tables: compare the ones the source has now.
    const validation = await compareAll(streamed.progress.ddl?.applied ? await tablesNow(tables) : tables);
    const dropped = await dropReplication({ source: spec.source, retry: spec.retry, names, dropPublication: true });
    const result: CutoverResult = {
      lsn: marker.lsn,
      downtimeMs: Date.now() - cutover.requestedAt,
      sourceLocked: request.lockSource,
      sequences,
      validation,
      changesApplied: streamed.progress.totalChanges,
      transactionsApplied: streamed.progress.transactions,
      droppedSlots: dropped.droppedSlots,
      ...(largeObjects ? { largeObjects } : {}),
      ...(streamed.progress.ddl ? { ddl: streamed.progress.ddl } : {}),
    };
    if (validation.mismatches.length) {
      for (const m of validation.mismatches) state.markFailed(m, `cutover validation: source has ${m.expectedRows} rows, target ${m.actualRows}`);
      cutover.failure = validationFailure(validation.mismatches).message;
      throw validationFailure(validation.mismatches);
    }
    if (largeObjects && !largeObjects.validation.ok) {
      const failure = largeObjectFailure('cutover validation', largeObjects.validation);
      cutover.failure = failure.message;
      throw failure;
    }
    cutover.result = result;
    return result;
  }

  /**
   * Where the change stream starts: the slot of the earliest snapshot that copies were read
   * under, and the position each table's changes start at when they were read under several.
   */
  function streamStart(last: SnapshotReady | undefined): { slot: string; lsn: string; syncPlan?: SyncPlan } | undefined {
    const readUnder = (copies?.snapshots() ?? []).map((n) => snapshots.get(n)).filter((r) => r?.slot && r.consistentLsn) as SnapshotReady[];
    if (!readUnder.length) return last?.slot && last.consistentLsn ? { slot: last.slot, lsn: last.consistentLsn } : undefined;
    const lsn = earliestLsn(readUnder.map((r) => r.consistentLsn!));
    const first = readUnder.find((r) => r.consistentLsn === lsn)!;
    const syncPlan = buildSyncPlan(copies!.parts((n) => snapshots.get(n)!.consistentLsn!));
    return { slot: first.slot!, lsn, ...(syncPlan ? { syncPlan } : {}) };
  }

  /** The selected tables of the source as it is now; those that were in the target before stay so. */
  async function tablesNow(before: TableRef[]): Promise<TableRef[]> {
    const preexisting = new Set(before.filter((t) => t.preexisting).map(tableKey));
    const now = await acts.listTables({ ...endpoints, objects: spec.objects, conflicts: spec.conflicts });
    return now.map(({ preexisting: _p, ...t }) => (preexisting.has(tableKey(t)) ? { ...t, preexisting: true } : t));
  }

  /** Live source against target, in batches (payloads stay small for huge schemas). */
  async function compareAll(all: TableRef[]): Promise<CutoverResult['validation']> {
    // Tables kept from before (conflicts: ignore) hold rows the source never had: not comparable.
    const tables = all.filter((t) => !t.preexisting);
    const mismatches: TableValidation[] = [];
    for (let i = 0; i < tables.length; i += VALIDATION_BATCH) {
      const batch = tables.slice(i, i + VALIDATION_BATCH).map((t) => ({ schema: t.schema, name: t.name, target: t.target, columns: t.columns, where: t.where }));
      const results = await acts.compareTables({ ...endpoints, mode: spec.validation, tables: batch });
      mismatches.push(...results.filter((r) => !r.ok));
    }
    return { mode: spec.validation, tablesChecked: tables.length, mismatches };
  }

  /** Sleeps until `startAt` (at once if it has passed); the time waited is not the migration's. */
  async function waitUntilStart(startAt: string): Promise<void> {
    const ms = Date.parse(startAt) - Date.now();
    if (ms <= 0) return;
    state.phase = 'scheduled';
    refreshDetails();
    await sleep(ms, { summary: `scheduled start at ${startAt}` });
    state.enter('precheck', Date.now());
    state.startedAt = Date.now();
  }

  /** Nothing left behind on the source: fence the target, drop every slot and the publication. */
  async function releaseSource(names: ReplicationNames): Promise<void> {
    try {
      await acts.closeStream({ target: spec.target, retry: { ...spec.retry, connectionMinutes: 1, otherMinutes: 1 }, migrationId: workflowInfo().workflowId });
    } catch {
      // the target may be what failed; the slot below matters more
    }
    try {
      await dropReplication({ source: spec.source, retry: spec.retry, names, dropPublication: true });
    } catch (cleanupErr) {
      state.warnings.push(
        `could not drop the replication slots (${names.slotPrefix}*) and publications (${names.publication}*) on the source: ${rootMessage(cleanupErr)}; drop them by hand or the source keeps WAL` +
          (captureDdl ? ` (and the DDL capture: event triggers ${names.publication}_ddl_start, _ddl_end and _ddl_drop, schema ${ddlCaptureNames(names).schema})` : ''),
      );
    }
  }
}

/** Whether objects.rename or a per-table rename / column map changes any name. */
function renamesSomething(spec: MigrationSpec): boolean {
  const tables = Object.values(spec.objects.tables);
  return Object.keys(spec.objects.rename).length > 0 || tables.some((t) => t.rename || (t.columns && !Array.isArray(t.columns)));
}

function streamOperations(spec: MigrationSpec): OperationsConfig {
  return { operations: spec.incremental.operations, tables: spec.incremental.tables };
}

function validationFailure(mismatches: TableValidation[]): ApplicationFailure {
  const described = mismatches
    .slice(0, 5)
    .map((m) => `${m.schema}.${m.name} (expected ${m.expectedRows} rows, found ${m.actualRows}${m.expectedChecksum ? ', checksum differs' : ''})`);
  return ApplicationFailure.nonRetryable(`validation failed for ${mismatches.length} table(s): ${described.join('; ')}`, FailureType.ValidationFailed, mismatches.slice(0, 50));
}

function largeObjectFailure(step: string, v: LargeObjectValidation): ApplicationFailure {
  const described = v.mismatches.slice(0, 5).map((m) => (m.oid ? `${m.oid}: ${m.problem}` : m.problem));
  return ApplicationFailure.nonRetryable(`${step} of large objects failed: ${described.join('; ')}`, FailureType.ValidationFailed, v.mismatches);
}

function skippedValidationWarning(state: MigrationState, tables: TableRef[]) {
  const skipped = tables.filter((t) => t.preexisting).length;
  if (skipped) state.warnings.push(`${skipped} table(s) existed in the target before (conflicts: ignore) and were not validated`);
}

function buildReport(spec: MigrationSpec, state: MigrationState, tables: TableRef[], checked: number, mismatches: TableValidation[]): MigrationReport {
  const rows = tables.map((t) => {
    const r = state.results.get(tableKey(t)) ?? { schema: t.schema, name: t.name, rows: 0, bytes: 0, ms: 0 };
    const mbPerSecond = r.ms > 0 ? Math.round((r.bytes / 1048576 / (r.ms / 1000)) * 10) / 10 : 0;
    return { ...r, sourceChecksum: undefined, snapshot: undefined, mbPerSecond };
  });
  return {
    source: describeConnection(spec.source),
    target: describeConnection(spec.target),
    types: spec.types,
    tables: rows,
    phases: state.phases,
    warnings: state.warnings,
    validation: { mode: spec.validation, tablesChecked: checked, mismatches },
    totalRows: rows.reduce((s, r) => s + r.rows, 0),
    totalBytes: rows.reduce((s, r) => s + r.bytes, 0),
    totalMs: Date.now() - state.startedAt,
    ...(state.largeObjects ? { largeObjects: state.largeObjects.view() } : {}),
    ...(state.redone.tables || state.redone.bytes ? { redone: { ...state.redone } } : {}),
  };
}
