/**
 * The migration workflow's message API. Signals come from pgferry's own activities (snapshot
 * ready, live table progress) and from its copy child workflow (units copied); the progress
 * query serves `pgferry status` and the Web UI.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import { PROGRESS_QUERY, SNAPSHOT_READY_SIGNAL, TABLE_PROGRESS_SIGNAL, type SnapshotReady, type TableProgressUpdate } from '../common/messages';
import type { CutoverRequest, MigrationProgress, TableCopyResult } from '../common/plan';
import { DATABASE_PHASE_SIGNAL, type DatabasePhase } from '../common/databases';
import { LARGE_OBJECT_PROGRESS_SIGNAL, type LargeObjectCopyResult, type LargeObjectProgressUpdate } from '../common/large-objects';

export const snapshotReadySignal = defineSignal<[SnapshotReady]>(SNAPSHOT_READY_SIGNAL);
export const tableProgressSignal = defineSignal<[TableProgressUpdate[]]>(TABLE_PROGRESS_SIGNAL);

export interface UnitCopied {
  /** Which run of the data phase sent it; a restarted phase ignores older runs. */
  generation: number;
  results: TableCopyResult[];
}
export const unitCopiedSignal = defineSignal<[UnitCopied]>('unitCopied');

/** A batch of large objects copied (from the copy child workflow), like unitCopied. */
export interface LargeObjectsCopied {
  generation: number;
  result: LargeObjectCopyResult;
}
export const largeObjectsCopiedSignal = defineSignal<[LargeObjectsCopied]>('largeObjectsCopied');
/** Live progress of a batch, from its copy activity (display only). */
export const largeObjectProgressSignal = defineSignal<[LargeObjectProgressUpdate]>(LARGE_OBJECT_PROGRESS_SIGNAL);

export const progressQuery = defineQuery<MigrationProgress>(PROGRESS_QUERY);

/** Cutover asked by a parent migration of several databases (the CLI uses the cutover Update). */
export const cutoverSignal = defineSignal<[CutoverRequest]>('cutoverRequest');

/** A database's migration tells its parent (several databases) which phase it is in. */
export const databasePhaseSignal = defineSignal<[DatabasePhase]>(DATABASE_PHASE_SIGNAL);
