/**
 * The target side of the change stream: one target transaction at a time, each applying one or
 * more batches of changes and moving the migration's position row (stream-position.ts) in the
 * same transaction, so the target always knows exactly what it has applied.
 *
 * Pipelining: `commit` starts a batch's target transaction and returns; while it runs, the
 * stream reads and nets the next batch, so the source's decoding, the worker and the target
 * work at the same time. Transactions still commit one at a time, in source order: the next
 * `commit` (or `settle`) waits for the one in flight, and a failed one fails there.
 */
import type { Client } from 'pg';
import { ApplicationFailure } from '@temporalio/activity';
import { CountTotals, type TableChangeCounts } from '../../common/stream';
import { FailureType } from '../../common/failure-types';
import { formatLsn } from '../../common/lsn';
import type { ChangeBatch } from './change-batch';
import { lockPosition, savePosition } from './stream-position';
import { allInOrder } from './queued-queries';

export type TargetClient = Pick<Client, 'query'>;

export class TargetApplier {
  /** A target transaction is open (begun by a batch, or a piece of a big source transaction). */
  private open = false;
  /** Changes applied in the open transaction, by table, reported once it commits. */
  private readonly counts = new CountTotals();
  private inflight?: Promise<void>;
  private inflightSettled = false;
  /** The position of the last commit started. */
  private queued: bigint;

  /**
   * `applying` hears when changes start being applied and when they are (to say what the
   * activity is doing when it fails).
   */
  constructor(
    private readonly client: TargetClient,
    private readonly migrationId: string,
    position: bigint,
    private readonly applying: (busy: boolean) => void = () => undefined,
  ) {
    this.queued = position;
  }

  /** A target transaction is open, or a commit is in flight: something received is not committed yet. */
  get busy(): boolean {
    return this.open || this.inflight !== undefined;
  }

  /** A commit in flight has finished (or failed): `settle` now returns at once (or throws). */
  get settled(): boolean {
    return this.inflight !== undefined && this.inflightSettled;
  }

  /** Nothing to commit for `position`: no transaction open, an empty batch, and a commit that far started already. */
  hasCommitted(batch: ChangeBatch, position: bigint): boolean {
    return !this.open && batch.isEmpty && position <= this.queued;
  }

  /** Waits for the commit in flight; its failure is thrown here. */
  async settle(): Promise<void> {
    const running = this.inflight;
    this.inflight = undefined;
    if (running) await running;
  }

  /** Applies a batch in the open target transaction (begun now if none is). */
  async apply(batch: ChangeBatch): Promise<void> {
    if (!this.open) await this.begin();
    if (batch.isEmpty) return;
    this.applying(true);
    await batch.apply(this.client);
    this.counts.add(batch.counts());
    this.applying(false);
  }

  /**
   * Starts committing `batch` with everything applied before it and the position it reaches;
   * `committed` runs once the target committed, with the changes counted. Call `settle` first:
   * one commit at a time.
   */
  commit(batch: ChangeBatch, position: bigint, committed: (counts: TableChangeCounts[]) => void): void {
    this.queued = position;
    const run = (async () => {
      await this.apply(batch);
      await allInOrder([savePosition(this.client, this.migrationId, formatLsn(position)), this.client.query('COMMIT')]);
      this.open = false;
      committed(this.counts.take());
    })();
    this.inflightSettled = false;
    run.then(
      () => (this.inflightSettled = true),
      () => (this.inflightSettled = true), // the failure surfaces through settle()
    );
    this.inflight = run;
  }

  private async begin(): Promise<void> {
    // Queued together (queued-queries.ts). Like PostgreSQL's own apply worker: no FK checks or
    // user triggers for replicated rows.
    const [, fence] = await allInOrder([
      this.client.query('BEGIN'),
      lockPosition(this.client, this.migrationId),
      this.client.query('SET LOCAL session_replication_role = replica'),
    ]);
    this.open = true;
    if (!fence || fence.closed) throw streamClosed();
  }
}

/** The fence is closed: the migration was cut over, nothing may be applied any more. */
export function streamClosed(): ApplicationFailure {
  return ApplicationFailure.nonRetryable('the stream is closed: the migration was cut over (or finished), so nothing may be applied to the target any more', FailureType.StreamClosed);
}
