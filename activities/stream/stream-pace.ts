/**
 * throttle.incremental in the change stream: a change is one row change (or truncate) received,
 * its bytes the pgoutput message's; over the limit, reading waits (the backlog stays in the
 * slot). The limits change only when the control is polled (every second): the gate learns them
 * then, not on every change.
 */
import type { RateLimit } from '../../common/throttle';
import { RateGate } from '../rate/rate-gate';

export class StreamPace {
  private readonly gate = new RateGate();
  private until = 0;

  obey(limit: RateLimit): void {
    this.gate.obey({ paused: false, limit });
  }

  /** A change of `bytes` was received. */
  take(bytes: number, now = Date.now()): void {
    const wait = this.gate.take(1, bytes, now);
    if (wait > 0) this.until = now + wait;
  }

  /** How long reading waits now (0: read on). */
  waitMs(now = Date.now()): number {
    return now < this.until ? this.until - now : 0;
  }
}
