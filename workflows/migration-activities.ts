/**
 * The activities the migration workflow calls, with their timeouts and retries
 * (./activity-options). Workflow code only: each call is a command in the workflow's history.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import * as options from './activity-options';

// proxyActivities returns a Proxy: take the functions out by name (spreading it yields nothing).
const { listTables, copySequences, dropBookkeeping, sourceChangedBetween } = proxyActivities<Activities>(options.short);
const { holdSnapshot, applyPreData, applyPostData, applyRenames, analyzeTarget, validateTables } = proxyActivities<Activities>(options.long);
const { precheck } = proxyActivities<Activities>(options.precheck);
const { createTargetDatabase } = proxyActivities<Activities>(options.short);
const { createPublication, openStream, lockSource, unlockSource, emitCutoverMarker, closeStream, compareTables } = proxyActivities<Activities>(options.short);
const { listLargeObjects, prepareWayBack } = proxyActivities<Activities>(options.short);
const { validateLargeObjects, syncLargeObjects } = proxyActivities<Activities>(options.long);

export const acts = {
  listTables, copySequences, dropBookkeeping, sourceChangedBetween, holdSnapshot, applyPreData, applyPostData, applyRenames, analyzeTarget, validateTables, precheck, createTargetDatabase,
  createPublication, openStream, lockSource, unlockSource, emitCutoverMarker, closeStream, compareTables, listLargeObjects, validateLargeObjects, syncLargeObjects, prepareWayBack,
};

/** The schema dump taken during the precheck: one attempt, no more (pre-data dumps itself without it). */
export const { dumpSchemaEarly } = proxyActivities<Activities>({ startToCloseTimeout: '30 minutes', retry: { maximumAttempts: 1 } });

/** Cleanup must end even if the source stays unreachable: then the report names what to drop by hand. */
export const { dropReplication, dropWayBack } = proxyActivities<Activities>({ ...options.short, retry: { ...options.short.retry, maximumAttempts: 20, maximumInterval: '15s' } });
