/**
 * The migration's runtime control as the workflow holds it: the scheduled start, pause and the
 * rate limits. Pure logic (no Temporal calls): the updates change it, the children get their
 * part of it, `pgferry status` and the Web UI show it.
 */
import type { ChildControl, ControlView } from '../common/control';
import type { Phase } from '../common/plan';
import { applyThrottleChange, describeLimit, throttleChangeProblem, type RateLimit, type Throttle, type ThrottleChange } from '../common/throttle';

const FINISHED: Phase[] = ['done', 'failed', 'cancelled'];

export class ControlState {
  paused = false;
  pausedAt?: number;

  constructor(public throttle: Throttle, readonly scheduledAt?: string) {}

  view(): ControlView {
    return { paused: this.paused, pausedAt: this.pausedAt, scheduledAt: this.scheduledAt, throttle: this.throttle };
  }

  /** What the copy workflow obeys. */
  copyControl(): ChildControl {
    return { paused: this.paused, limit: this.throttle.full };
  }

  streamLimit(): RateLimit {
    return this.throttle.incremental;
  }

  setPaused(paused: boolean, now: number): void {
    if (paused && !this.paused) this.pausedAt = now;
    if (!paused) this.pausedAt = undefined;
    this.paused = paused;
  }

  changeThrottle(change: ThrottleChange): void {
    this.throttle = applyThrottleChange(this.throttle, change);
  }

  /** Why a pause or resume is refused in this phase, or undefined. */
  pauseProblem(phase: Phase, paused: boolean): string | undefined {
    if (FINISHED.includes(phase)) return `the migration has finished (${phase}): there is nothing to ${paused ? 'pause' : 'resume'}`;
    if (phase === 'cutover' && paused) return 'the migration is cutting over: it can no longer be paused';
    return undefined;
  }

  throttleProblem(phase: Phase, change: ThrottleChange): string | undefined {
    if (FINISHED.includes(phase)) return `the migration has finished (${phase}): there is nothing to throttle`;
    return throttleChangeProblem(change);
  }

  /** Markdown lines for the Web UI's current details. */
  details(phase: Phase): string[] {
    const lines: string[] = [];
    if (phase === 'scheduled' && this.scheduledAt) lines.push(`**Scheduled** to start at ${this.scheduledAt}`);
    if (this.paused) {
      lines.push(
        `**Paused** since ${new Date(this.pausedAt ?? 0).toISOString()}: copies hold still where they are (a step already running finishes first); ` +
          'the source snapshot, or the replication slot, stays open meanwhile.',
      );
    }
    const { full, incremental } = this.throttle;
    if (full.mbPerSecond !== undefined || full.rowsPerSecond !== undefined || incremental.mbPerSecond !== undefined || incremental.rowsPerSecond !== undefined) {
      lines.push(`**Throttle:** copy ${describeLimit(full)} · change stream ${describeLimit(incremental)}`);
    }
    return lines.length ? [...lines, ''] : [];
  }
}
