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

export class LagClock {
  private readonly heartbeats: Heartbeat[] = [];
  private readonly received: ReceivedTransaction[] = [];
  /** Worker clock minus source clock, in ms (measured at each heartbeat). */
  private offsetMs = 0;
  private lastAppliedCommitAt?: number;
  private passedHeartbeat = false;

  /** A heartbeat written at `lsn`; `sourceNowMs` is the source's clock then, `at` the worker's. */
  wroteHeartbeat(lsn: bigint, sourceNowMs: number, at: number): void {
    this.offsetMs = at - sourceNowMs;
    this.heartbeats.push({ lsn, at });
    // A stream stuck for days: keep every other heartbeat (the oldest stays exact).
    if (this.heartbeats.length > MAX_HEARTBEATS) this.heartbeats.splice(0, this.heartbeats.length, ...this.heartbeats.filter((_, i) => i % 2 === 0));
  }

  /** A transaction to apply was received (its commit time in the source's clock, µs since 1970). */
  receivedTransaction(finalLsn: bigint, commitMicros: bigint): void {
    this.received.push({ finalLsn, committedAt: Number(commitMicros) / 1000 + this.offsetMs });
  }

  /** Everything before `position` is applied (or was none of ours). */
  reached(position: bigint): void {
    while (this.received.length && this.received[0].finalLsn < position) this.lastAppliedCommitAt = this.received.shift()!.committedAt;
    while (this.heartbeats.length && this.heartbeats[0].lsn <= position) {
      this.heartbeats.shift();
      this.passedHeartbeat = true;
    }
  }

  /** Seconds behind the source at `now` (worker time); 0 when caught up. */
  seconds(now = Date.now()): number {
    const dates: number[] = [];
    if (this.received.length) dates.push(this.received[0].committedAt);
    const waiting = this.heartbeats[0];
    if (waiting) {
      // Not yet past this attempt's first heartbeat: the slot's older backlog comes first.
      if (!this.passedHeartbeat && this.lastAppliedCommitAt !== undefined) dates.push(Math.min(this.lastAppliedCommitAt, waiting.at));
      else dates.push(waiting.at);
    }
    if (!dates.length) return 0;
    return Math.max(0, (now - Math.min(...dates)) / 1000);
  }
}
