/**
 * All activities, made over the worker's dependencies (the Temporal samples' factory shape).
 * Each lives in the file of its concern; this is only the list the worker registers.
 */
import type { ActivityDeps } from './deps';
import { makeCopyUnit } from './copy/copy-unit';
import { makeListTables } from './copy/list-tables';
import { makeEmptySplitTables, makeFinishSplitTable } from './copy/split-tables';
import { makePrecheck } from './precheck/precheck';
import { makePlanMigration } from './plan/plan-migration';
import { makeCreateTargetDatabase } from './database/create-database';
import { makeAnalyzeTarget } from './schema/analyze';
import { makeDropBookkeeping } from './schema/finish';
import { makeApplyPostData } from './schema/post-data';
import { makeApplyPreData } from './schema/pre-data';
import { EarlyDumps, makeDumpSchemaEarly } from './schema/schema-dump';
import { makeCopySequences } from './schema/sequences';
import { makeHoldSnapshot } from './snapshot';
import { makeSourceChangedBetween } from './snapshot-changes';
import { makeValidateTables } from './validate/validate-tables';
import { makeCompareTables } from './validate/compare-tables';
import { makeCreatePublication, makeDropReplication } from './replication/publication';
import { makeEmitCutoverMarker, makeLockSource, makeUnlockSource } from './replication/cutover';
import { makeStreamChanges } from './stream/stream-changes';
import { makeApplyRenames } from './objects/apply-renames';
import { makeCloseStream, makeOpenStream } from './stream/stream-position';
import { makeListLargeObjects } from './large-objects/list-large-objects';
import { makeCopyLargeObjects } from './large-objects/copy-large-objects';
import { makeValidateLargeObjects } from './large-objects/validate-large-objects';
import { makeSyncLargeObjects } from './large-objects/sync-large-objects';
import { makeVerifyRound } from './verify/verify-round';
import { makeDropWayBack, makePrepareWayBack } from './replication/way-back';

export function createActivities(deps: ActivityDeps) {
  const earlyDumps = new EarlyDumps(); // schema dumps taken during the precheck, for pre-data
  return {
    precheck: makePrecheck(deps),
    planMigration: makePlanMigration(deps),
    createTargetDatabase: makeCreateTargetDatabase(deps),
    holdSnapshot: makeHoldSnapshot(deps),
    sourceChangedBetween: makeSourceChangedBetween(deps),
    listTables: makeListTables(deps),
    dumpSchemaEarly: makeDumpSchemaEarly(deps, earlyDumps),
    applyPreData: makeApplyPreData(deps, earlyDumps),
    copyUnit: makeCopyUnit(deps),
    emptySplitTables: makeEmptySplitTables(deps),
    finishSplitTable: makeFinishSplitTable(deps),
    copySequences: makeCopySequences(deps),
    applyPostData: makeApplyPostData(deps),
    applyRenames: makeApplyRenames(deps),
    analyzeTarget: makeAnalyzeTarget(deps),
    validateTables: makeValidateTables(deps),
    dropBookkeeping: makeDropBookkeeping(deps),
    // large objects (their metadata comes with pre-data)
    listLargeObjects: makeListLargeObjects(deps),
    copyLargeObjects: makeCopyLargeObjects(deps),
    validateLargeObjects: makeValidateLargeObjects(deps),
    syncLargeObjects: makeSyncLargeObjects(deps),
    // incremental migrations
    createPublication: makeCreatePublication(deps),
    dropReplication: makeDropReplication(deps),
    openStream: makeOpenStream(deps),
    streamChanges: makeStreamChanges(deps),
    lockSource: makeLockSource(deps),
    unlockSource: makeUnlockSource(deps),
    emitCutoverMarker: makeEmitCutoverMarker(deps),
    closeStream: makeCloseStream(deps),
    prepareWayBack: makePrepareWayBack(deps),
    dropWayBack: makeDropWayBack(deps),
    compareTables: makeCompareTables(deps),
    // online verification while streaming
    verifyRound: makeVerifyRound(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { ActivityDeps } from './deps';
