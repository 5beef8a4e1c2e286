/**
 * What one activity obeys while it moves data: pause (hold still until resumed) and its share
 * of the migration's rate limits, rows and bytes each a token bucket.
 */
import { BYTES_PER_MB } from '../../common/throttle';
import type { ActivityControl } from '../../common/control';
import { TokenBucket } from './token-bucket';

export class RateGate {
  private readonly rows: TokenBucket;
  private readonly bytes: TokenBucket;
  private pausedNow = false;
  private resumed: Array<() => void> = [];

  constructor(now = Date.now()) {
    this.rows = new TokenBucket(undefined, now);
    this.bytes = new TokenBucket(undefined, now);
  }

  get paused(): boolean {
    return this.pausedNow;
  }

  /** Rows and bytes per second allowed now (undefined = unlimited). */
  get rates(): { rows?: number; bytes?: number } {
    return { rows: this.rows.perSecond, bytes: this.bytes.perSecond };
  }

  obey(control: ActivityControl, now = Date.now()): void {
    this.rows.setRate(control.limit.rowsPerSecond, now);
    this.bytes.setRate(control.limit.mbPerSecond === undefined ? undefined : control.limit.mbPerSecond * BYTES_PER_MB, now);
    this.pausedNow = control.paused;
    if (!control.paused) {
      const waiting = this.resumed;
      this.resumed = [];
      for (const resume of waiting) resume();
    }
  }

  /** Records `rows` rows in `bytes` bytes passing; returns the ms to wait before more may pass. */
  take(rows: number, bytes: number, now = Date.now()): number {
    return Math.max(this.rows.take(rows, now), this.bytes.take(bytes, now));
  }

  /** For awaiting callers (not streams): waits while paused, then for this share of the limit. */
  async admit(rows: number, bytes: number): Promise<void> {
    await this.whenRunning();
    const wait = this.take(rows, bytes);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }

  /** Resolves at once unless paused, else when resumed. */
  whenRunning(): Promise<void> {
    if (!this.pausedNow) return Promise.resolve();
    return new Promise((resolve) => this.resumed.push(resolve));
  }
}
