/**
 * Whether an attempt of the change stream is healthy, for its retry window. Temporal retries a
 * failed attempt; `retry.*Minutes` bounds how long failures may go on. A stream runs for days,
 * so the window counts from the last time the stream was healthy, not from its first start,
 * and that time travels from attempt to attempt in the activity's heartbeat details.
 *
 * Healthy is: a target transaction committed, or the stream caught up on a quiet source for a
 * while. But a retry that fails again replays its failing change within moments of connecting:
 * an attempt that is idle before it gets back to where the last one failed (the source resends
 * the failing change, however long that takes) is not healthy. Pure bookkeeping.
 */
import { formatLsn, parseLsn } from '../../common/lsn';

/** An attempt that stayed caught up this long is healthy, and a later failure starts a new retry window. */
export const IDLE_HEALTHY_AFTER_MS = 15_000;

/** What an attempt leaves in its heartbeat for the next one (times as ISO text: the Web UI shows them). */
export interface HealthDetails {
  healthyAt?: number | string;
  failedAt?: string;
}

export class AttemptHealth {
  private healthyAt: number;
  /** Where the last attempt failed (how far it had received). */
  private failedAt?: bigint;

  /**
   * `previous`: the heartbeat details of the last attempt; `scheduledAt`: when this activity was
   * first scheduled (the window starts there if it was never healthy).
   */
  constructor(
    previous: HealthDetails | undefined,
    private readonly scheduledAt: number,
    private readonly startedAt = Date.now(),
  ) {
    this.healthyAt = readTime(previous?.healthyAt);
    this.failedAt = previous?.failedAt ? parseLsn(previous.failedAt) : undefined;
  }

  /** Where the retry window starts. */
  failingSince(): number {
    return Math.max(this.healthyAt, this.scheduledAt);
  }

  /** Whether the stream confirmed the position the last attempt failed at (none failed: yes). */
  pastFailure(confirmed: bigint): boolean {
    return this.failedAt === undefined || confirmed >= this.failedAt;
  }

  /** A target transaction committed. */
  committed(now = Date.now()): void {
    this.healthyAt = now;
  }

  /** The stream moved on with nothing to apply (a keepalive or heartbeat past what it had). */
  movedIdle(confirmed: bigint, now = Date.now()): void {
    if (this.pastFailure(confirmed)) this.healthyAt = now;
  }

  /** Caught up on a quiet source: healthy once the attempt has run a while past the last failure. */
  caughtUp(confirmed: bigint, now = Date.now()): void {
    if (now - this.startedAt > IDLE_HEALTHY_AFTER_MS && this.pastFailure(confirmed)) this.healthyAt = now;
  }

  /** The attempt fails having received up to `received`: the next one is judged against the furthest failure. */
  failed(received: bigint): void {
    if (this.failedAt === undefined || received > this.failedAt) this.failedAt = received;
  }

  /** For the heartbeat details. */
  details(): HealthDetails {
    return { ...(this.healthyAt ? { healthyAt: new Date(this.healthyAt).toISOString() } : {}), ...(this.failedAt !== undefined ? { failedAt: formatLsn(this.failedAt) } : {}) };
  }
}

/** A time from an earlier attempt's heartbeat: ISO text (epoch ms before this was readable). */
function readTime(value: number | string | undefined): number {
  if (typeof value === 'number') return value;
  const ms = value ? Date.parse(value) : NaN;
  return Number.isFinite(ms) ? ms : 0;
}
