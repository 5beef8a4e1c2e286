/**
 * The message API of pgferry's workflows: every signal, query and update is defined here once
 * (the runtime control updates in ./control-messages), and the workflows, the client and the
 * tests use these definitions, so a name and its types cannot drift apart. Names that
 * activities send by name (they do not import workflow code) come from common/.
 *
 * Migration workflow: signals come from pgferry's own activities (snapshot ready, live table
 * progress) and from its copy child workflow (units copied); the progress query serves
 * `pgferry status` and the Web UI; the cutover update serves `pgferry cutover`.
 *
 * The names are stored in workflow histories: never change one.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { FinishResult, RollbackRequest, RollbackResult } from '../common/way-back';
import { PROGRESS_QUERY, SNAPSHOT_READY_SIGNAL, TABLE_PROGRESS_SIGNAL, type SnapshotReady, type TableProgressUpdate } from '../common/messages';
import type { CutoverRequest, CutoverResult, MigrationProgress, TableCopyResult } from '../common/plan';
import { DATABASE_PHASE_SIGNAL, type DatabasePhase, type MultiCutoverRequest, type MultiCutoverResult, type MultiDatabaseProgress } from '../common/databases';
import { STREAM_CONTROL_QUERY, STREAM_STATS_SIGNAL, type StreamControl, type StreamProgress, type StreamStats } from '../common/stream';
import type { RateLimit } from '../common/throttle';
import type { StreamOutlook } from '../common/stream-outlook';
import type { VerificationRecord, VerifyRequest } from '../common/verification';
import { LARGE_OBJECT_PROGRESS_SIGNAL, type LargeObjectCopyResult, type LargeObjectProgressUpdate } from '../common/large-objects';

// Descriptions the Web UI shows under each name in its Send a Signal / Send an Update dialogs
// (it reads them from the workflow's metadata query while a worker runs): what an operator may
// send, with its input, and what is pgferry's own traffic.
export const INTERNAL_MESSAGE = "pgferry's own message between its workflows and activities: never send it by hand";
export const CUTOVER_SIGNAL_DESCRIPTION = 'Cut over, fire and forget. Input: {"lockSource": false} (true: make the source read-only first). The report is the workflow\'s result.';
export const VERIFY_UPDATE_DESCRIPTION = 'Compare source and target while the stream runs (the stream holds for a moment) and wait for what differs. Input: {} or {"repair": true} to copy differing chunks again.';
export const CUTOVER_UPDATE_DESCRIPTION = 'Cut over and wait for the result (downtime, validation) or the reason it was refused. Input: {"lockSource": false} (true: make the source read-only first; add "timeoutSeconds": 60 to give up, source writable again, if the stream has not caught up by then).';

export const snapshotReadySignal = defineSignal<[SnapshotReady]>(SNAPSHOT_READY_SIGNAL);
export const tableProgressSignal = defineSignal<[TableProgressUpdate[]]>(TABLE_PROGRESS_SIGNAL);

export interface UnitCopied {
  /** Which run of the data phase sent it; a restarted phase ignores older runs. */
  generation: number;
  results: TableCopyResult[];
}
export const unitCopiedSignal = defineSignal<[UnitCopied]>('unitCopied');

/**
 * From the migration to its copy workflow when the snapshot was lost and a new one exported:
 * go on under it (keeping what was read under the earlier ones), or stop (the data phase
 * starts again).
 */
export type CopySnapshot = { snapshot: string; keepRecordsFrom: string[] } | { stop: true };
export const copySnapshotSignal = defineSignal<[CopySnapshot]>('copySnapshot');

/** A batch of large objects copied (from the copy child workflow), like unitCopied. */
export interface LargeObjectsCopied {
  generation: number;
  result: LargeObjectCopyResult;
}
export const largeObjectsCopiedSignal = defineSignal<[LargeObjectsCopied]>('largeObjectsCopied');
/** Live progress of a batch, from its copy activity (display only). */
export const largeObjectProgressSignal = defineSignal<[LargeObjectProgressUpdate]>(LARGE_OBJECT_PROGRESS_SIGNAL);

export const progressQuery = defineQuery<MigrationProgress>(PROGRESS_QUERY);

/** The cutover Update's name, of a single migration and of several databases alike. */
const CUTOVER_UPDATE = 'cutover';

/**
 * The cutover message: an Update, so `pgferry cutover` waits for and gets the result (the
 * downtime and the validation) or the reason it failed. Its validator refuses a cutover before
 * anything is written to history when the migration cannot take it yet.
 */
export const cutoverUpdate = defineUpdate<CutoverResult, [CutoverRequest]>(CUTOVER_UPDATE);

/**
 * `pgferry verify`: one verification round while streaming. An Update, so the CLI waits for
 * and prints the round's result; its validator refuses before anything is written to history
 * when the migration does not stream (or is paused, or cutting over).
 */
export const verifyUpdate = defineUpdate<VerificationRecord, [VerifyRequest]>('verify');

/**
 * The way back (spec incremental.wayBack), in phase fallback-ready: `pgferry rollback` sends
 * the applications back to the source (the target is locked, the reverse stream drained, the
 * source's sequences set, both compared, the source made writable); `pgferry finish` gives the
 * way back up and drops what it used. Updates, so the CLI waits for the result.
 */
export const rollbackUpdate = defineUpdate<RollbackResult, [RollbackRequest]>('rollback');
export const finishUpdate = defineUpdate<FinishResult, []>('finish');
export const ROLLBACK_UPDATE_DESCRIPTION =
  'Roll back to the source after cutover (phase fallback-ready): the target is made read-only, its writes since cutover are replayed on the source, sequences set, both compared, the source made writable. Input: {}.';
export const FINISH_UPDATE_DESCRIPTION = 'Give up the way back (phase fallback-ready): the reverse stream ends and its slot, publication and origin are dropped. No input.';

/** Cutover asked by a parent migration of several databases (the CLI uses the cutover Update). */
export const cutoverSignal = defineSignal<[CutoverRequest]>('cutoverRequest');

/** A database's migration tells its parent (several databases) which phase it is in. */
export const databasePhaseSignal = defineSignal<[DatabasePhase]>(DATABASE_PHASE_SIGNAL);

// Several databases (multiDatabaseWorkflow): the same names as a single migration's, so that
// `pgferry status` and `pgferry cutover` ask either kind alike.
export const multiProgressQuery = defineQuery<MultiDatabaseProgress>(PROGRESS_QUERY);
export const multiCutoverUpdate = defineUpdate<MultiCutoverResult, [MultiCutoverRequest]>(CUTOVER_UPDATE);

// The change stream child workflow (streamChangesWorkflow).
export const streamStatsSignal = defineSignal<[StreamStats]>(STREAM_STATS_SIGNAL);
/** Stop the stream at this position (the cutover marker's); no position: an abandoned cutover, stream on. */
export const stopAtSignal = defineSignal<[{ lsn?: string }]>('stopAt');
/** Pause or resume applying changes (they wait in the slot meanwhile). */
export const pauseStreamSignal = defineSignal<[{ paused: boolean }]>('pauseStream');
/** The migration's `throttle.incremental`, whenever it changes. */
export const throttleStreamSignal = defineSignal<[{ limit: RateLimit }]>('throttleStream');
export const streamControlQuery = defineQuery<StreamControl>(STREAM_CONTROL_QUERY);
export const streamProgressQuery = defineQuery<StreamProgress>(PROGRESS_QUERY);
/** From the stream to its migration when it catches up, falls behind, or its lag changes much (the migration's page and search attributes show it). */
export const streamOutlookSignal = defineSignal<[StreamOutlook]>('streamOutlook');
