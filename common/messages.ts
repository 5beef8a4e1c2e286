/**
 * Names of the messages that activities send to the migration workflow. The workflow defines
 * them in workflows/messages.ts; activities signal by name, so they need not import workflow code.
 */
export const SNAPSHOT_READY_SIGNAL = 'snapshotReady';
export const TABLE_PROGRESS_SIGNAL = 'tableProgress';
export const PROGRESS_QUERY = 'progress';

export interface SnapshotReady {
  name: string;
  /** The holder's attempt; a new attempt means the previous snapshot is gone. */
  attempt: number;
  /**
   * Incremental migrations: the logical replication slot whose creation exported this
   * snapshot, and its consistent point. Changes after the snapshot stream from this slot.
   */
  slot?: string;
  consistentLsn?: string;
  /** Full migrations: `txid_current_snapshot()` of the snapshot (tells whether the source changed between two). */
  xids?: string;
}

export interface TableProgressUpdate {
  schema: string;
  name: string;
  state: 'copying' | 'copied' | 'failed';
  rows: number;
  bytes: number;
  ms?: number;
  sourceChecksum?: string;
  error?: string;
  /** From one chunk of a split table (the table's figures are the sum of its chunks'). */
  chunk?: number;
}
