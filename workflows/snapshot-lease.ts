/**
 * The snapshot lease: one exported snapshot of the source for everything the migration reads
 * (the copy, the schema dump, the table list), held by the `holdSnapshot` activity for as long
 * as it runs. The activity signals each snapshot it exports (snapshotReady); if it dies,
 * Temporal retries it and it exports a new one, a different point in time: steps that read
 * under the lost one are run again under the new one (`under`), or the copy goes on under it
 * (./copy-data.ts, ./lost-snapshot.ts). `release` cancels the holder, which closes its
 * transaction (and, for an incremental migration, keeps the slot it created).
 */
import { CancellationScope, ApplicationFailure, condition } from '@temporalio/workflow';
import type { HoldSnapshotInput } from '../activities/snapshot';
import { FailureType } from '../common/failure-types';
import type { SnapshotReady } from '../common/messages';
import { isSnapshotLost } from './failures';
import { acts } from './migration-activities';

export class SnapshotLease {
  /** Every snapshot the holder exported, by name (with its slot and position when incremental). */
  private readonly exported = new Map<string, SnapshotReady>();
  private latest?: SnapshotReady;
  private holderEnded = false;
  /** Created with the workflow, in its root scope: cancelling it ends only the holder. */
  private readonly scope = new CancellationScope();
  private holder?: Promise<void>;

  /** The holder's snapshotReady signal. */
  ready(snapshot: SnapshotReady): void {
    this.latest = snapshot;
    this.exported.set(snapshot.name, snapshot);
  }

  /** Whether the holder was started. */
  get taken(): boolean {
    return this.holder !== undefined;
  }

  /** Starts the holder; it runs until `release`. */
  take(input: HoldSnapshotInput): void {
    this.holder = this.scope.run(() => acts.holdSnapshot(input));
    this.holder.then(
      () => (this.holderEnded = true),
      () => (this.holderEnded = true),
    );
  }

  /** A snapshot the holder exported. */
  get(name: string): SnapshotReady | undefined {
    return this.exported.get(name);
  }

  /** Waits for a snapshot other than `stale`; fails if the holder gave up for good. */
  async current(stale?: string): Promise<string> {
    await condition(() => (this.latest !== undefined && this.latest.name !== stale) || this.holderEnded);
    if (!this.latest || this.latest.name === stale) throw ApplicationFailure.nonRetryable('the snapshot holder stopped', FailureType.SnapshotLost);
    return this.latest.name;
  }

  /** The newest snapshot the holder exported. */
  get latestName(): string | undefined {
    return this.latest?.name;
  }

  /** The holder gave up for good (or was released): no new snapshot will come. */
  get holderGone(): boolean {
    return this.holderEnded;
  }

  /**
   * Runs a step that reads under the snapshot, again under a new one if the old one is lost
   * (`onLost` hears of it first).
   */
  async under<T>(step: (snapshotName: string) => Promise<T>, onLost: (lost: string, err: unknown) => void): Promise<T> {
    let name = await this.current();
    for (;;) {
      try {
        return await step(name);
      } catch (err) {
        if (!isSnapshotLost(err)) throw err;
        onLost(name, err);
        name = await this.current(name);
      }
    }
  }

  /** Nothing more is read under the snapshot: the holder closes its transaction. */
  release(): void {
    this.scope.cancel();
  }

  /** Resolves once the holder has ended (it has closed its connection), however it ended; undefined when it never started. */
  ended(): Promise<unknown> | undefined {
    return this.holder?.catch(() => undefined);
  }
}
