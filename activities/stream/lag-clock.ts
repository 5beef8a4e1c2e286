/**
 * Seconds behind the source, measured from the source's side: how old is the oldest change the
 * source has committed that the target has not applied?
 *
 * Two kinds of evidence, both kept in the worker's clock:
 *   - received transactions not yet applied: their commit times (exact, converted from the
 *     source's clock with the offset the heartbeats measure);
 *   - heartbeats: every second the stream writes a non-transactional logical decoding message
 *     into the source's WAL (`pg_logical_emit_message`, nothing stored in any table) and notes
 *     its position and when it was written. A heartbeat the stream has not passed yet means WAL
 *     written at that time is still waiting in the slot: the oldest such heartbeat dates the
 *     backlog the stream has not even received. Once the stream's position passes the newest
 *     heartbeat with nothing pending, it is caught up: lag 0, on an idle source too.
 *
 * Before the first heartbeat of an attempt is passed, the slot may hold changes older than the
 * attempt (a stream that was down): they are dated by the last applied commit, since the next
 * change in the slot committed after it.
 */

/** The prefix of the heartbeat messages (the stream ignores them when it reads them back). */
export const HEARTBEAT_PREFIX = 'pgferry-heartbeat';

const MAX_HEARTBEATS = 4096;

interface Heartbeat {
  lsn: bigint;
  /** Worker time when it was written. */
  at: number;
}

interface ReceivedTransaction {
  finalLsn: bigint;
  /** Worker time of its source commit. */
  committedAt: number;
}

/**
 * First in, first out, with O(1) removal from the front: a drain receives tens of thousands of
 * transactions per batch, and Array.shift moves the whole array each time.
 */
class Queue<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  /** The oldest item (undefined when empty). */
  get first(): T | undefined {
    return this.items[this.head];
  }

  /** The newest item (undefined when empty). */
  get last(): T | undefined {
    return this.length > 0 ? this.items[this.items.length - 1] : undefined;
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head++];
    if (this.head > 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Keeps only the items `keep` accepts (by their index from the front). */
  filter(keep: (index: number) => boolean): void {
    this.items = this.items.slice(this.head).filter((_, i) => keep(i));
    this.head = 0;
  }
}

export class LagClock {
  private readonly heartbeats = new Queue<Heartbeat>();
  private readonly received = new Queue<ReceivedTransaction>();
  /** Worker clock minus source clock, in ms (measured at each heartbeat). */
  private offsetMs = 0;
  private lastAppliedCommitAt?: number;
  private passedHeartbeat = false;

  /** A heartbeat written at `lsn`; `sourceNowMs` is the source's clock then, `at` the worker's. */
  wroteHeartbeat(lsn: bigint, sourceNowMs: number, at: number): void {
    this.offsetMs = at - sourceNowMs;
    this.heartbeats.push({ lsn, at });
    // A stream stuck for days: keep every other heartbeat (the oldest stays exact).
    if (this.heartbeats.length > MAX_HEARTBEATS) this.heartbeats.filter((i) => i % 2 === 0);
  }

  /** A transaction to apply was received (its commit time in the source's clock, µs since 1970). */
  receivedTransaction(finalLsn: bigint, commitMicros: bigint): void {
    const committedAt = Number(commitMicros) / 1000 + this.offsetMs;
    // Transactions that committed within a millisecond of the newest entry join it (it keeps its
    // commit time and takes their position): the lag stays exact to the millisecond, and a
    // drain of tens of thousands of transactions a second keeps one entry per millisecond,
    // not one per transaction.
    const newest = this.received.last;
    if (newest && committedAt - newest.committedAt < 1) newest.finalLsn = finalLsn;
    else this.received.push({ finalLsn, committedAt });
  }

  /** Entries kept for received transactions not yet applied (at most one per millisecond of commits). */
  get pendingEntries(): number {
    return this.received.length;
  }

  /** Everything before `position` is applied (or was none of ours). */
  reached(position: bigint): void {
    while (this.received.length && this.received.first!.finalLsn < position) this.lastAppliedCommitAt = this.received.shift()!.committedAt;
    while (this.heartbeats.length && this.heartbeats.first!.lsn <= position) {
      this.heartbeats.shift();
      this.passedHeartbeat = true;
    }
  }

  /** Seconds behind the source at `now` (worker time); 0 when caught up. */
  seconds(now = Date.now()): number {
    const dates: number[] = [];
    if (this.received.length) dates.push(this.received.first!.committedAt);
    const waiting = this.heartbeats.first;
    if (waiting) {
      // Not yet past this attempt's first heartbeat: the slot's older backlog comes first.
      if (!this.passedHeartbeat && this.lastAppliedCommitAt !== undefined) dates.push(Math.min(this.lastAppliedCommitAt, waiting.at));
      else dates.push(waiting.at);
    }
    if (!dates.length) return 0;
    return Math.max(0, (now - Math.min(...dates)) / 1000);
  }
}
