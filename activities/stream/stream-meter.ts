/**
 * The stream's positions and rates: what it has received, applied and confirmed, how far
 * behind the source it is, and the per-table counts to report. Pure bookkeeping.
 */
import { changeCount, CountTotals, type StreamStats, type TableChangeCounts } from '../../common/stream';
import { formatLsn } from '../../common/lsn';
import { LagClock } from './lag-clock';

export class StreamMeter {
  /** Applied and committed in the target. */
  applied = 0n;
  /** Confirmed to the source as flushed: `applied`, or further when the rest was not ours. */
  confirmed = 0n;
  /** The end of the last source transaction received (sent to the source as `written`). */
  received = 0n;
  /** The source's current end of WAL (pg_current_wal_lsn), read now and then. */
  sourceEnd = 0n;
  statusSentAt = 0;
  /** Seconds behind the source (see lag-clock.ts). */
  readonly lag = new LagClock();
  private readonly deltas = new CountTotals();
  private transactions = 0;
  private changesSinceStats = 0;
  private statsAt = Date.now();
  private totalChanges = 0;
  private lastRate = 0;

  start(position: bigint): void {
    this.applied = position;
    this.confirmed = position;
    this.received = position;
  }

  sawSourceEnd(lsn: bigint): void {
    if (lsn > this.sourceEnd) this.sourceEnd = lsn;
  }

  /** A heartbeat was written into the source's WAL at `lsn` (the source's end of WAL then). */
  wroteHeartbeat(lsn: bigint, sourceNowMs: number, at = Date.now()): void {
    this.sawSourceEnd(lsn);
    this.lag.wroteHeartbeat(lsn, sourceNowMs, at);
  }

  /** A transaction to apply was received; its commit time dates the lag until it is applied. */
  receivedTransaction(finalLsn: bigint, commitMicros: bigint): void {
    this.lag.receivedTransaction(finalLsn, commitMicros);
  }

  /** Nothing is pending: the slot may move up to the server's end without holding WAL. */
  confirmIdle(position: bigint): void {
    if (position > this.confirmed) this.confirmed = position;
    this.lag.reached(this.confirmed);
  }

  recordApplied(position: bigint, counts: TableChangeCounts[], transactions: number): void {
    if (position > this.applied) this.applied = position;
    if (position > this.confirmed) this.confirmed = position;
    this.lag.reached(this.confirmed);
    this.deltas.add(counts);
    const n = counts.reduce((s, c) => s + changeCount(c), 0);
    this.changesSinceStats += n;
    this.totalChanges += n;
    this.transactions += transactions;
  }

  lagBytes(): number {
    return this.sourceEnd > this.confirmed ? Number(this.sourceEnd - this.confirmed) : 0;
  }

  lagSeconds(now = Date.now()): number {
    return this.lag.seconds(now);
  }

  /** What the activity's heartbeat shows in the Web UI (pending activity card). */
  heartbeat(): Record<string, unknown> {
    return {
      appliedLsn: formatLsn(this.applied),
      sourceLsn: formatLsn(this.sourceEnd),
      lagBytes: this.lagBytes(),
      lagSeconds: Math.round(this.lagSeconds() * 100) / 100,
      totalChanges: this.totalChanges,
      changesPerSecond: this.lastRate,
    };
  }

  /** The report for the workflow: positions now, counts since the previous report. */
  takeStats(now = Date.now()): StreamStats {
    const seconds = Math.max(0.001, (now - this.statsAt) / 1000);
    this.lastRate = Math.round(this.changesSinceStats / seconds);
    const stats: StreamStats = {
      appliedLsn: formatLsn(this.applied),
      sourceLsn: formatLsn(this.sourceEnd > this.applied ? this.sourceEnd : this.applied),
      lagBytes: this.lagBytes(),
      lagSeconds: Math.round(this.lagSeconds(now) * 100) / 100,
      changesPerSecond: this.lastRate,
      tableDeltas: this.deltas.take(),
      transactions: this.transactions,
      at: now,
    };
    this.changesSinceStats = 0;
    this.transactions = 0;
    this.statsAt = now;
    return stats;
  }
}
