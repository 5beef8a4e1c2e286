/**
 * Is the change stream caught up, and if not, when will it be? From the stream's successive
 * reports: the lag in bytes shrinks at some rate while it catches up. And what the operator
 * does next, in words, for the Web UI and `pgferry status`.
 */
import { formatBytes } from './format';
import { formatDuration } from './rates';

/** Behind by at most this much, the stream is caught up: cutover waits about that long. */
export const CAUGHT_UP_SECONDS = 5;

export interface StreamOutlook {
  caughtUp: boolean;
  lagSeconds: number;
  lagBytes: number;
  changesPerSecond: number;
  /** Seconds until caught up at the rate the backlog shrinks; absent while it does not shrink. */
  etaSeconds?: number;
  /** When this was measured (ms since 1970). */
  at: number;
}

export function isCaughtUp(lagSeconds: number): boolean {
  return lagSeconds <= CAUGHT_UP_SECONDS;
}

/** Follows the backlog in bytes across reports to tell how fast it shrinks (smoothed). */
export class CatchUpTracker {
  private previous?: { at: number; lagBytes: number };
  private drainBytesPerSecond?: number;

  observe(report: { at: number; lagBytes: number; lagSeconds: number; changesPerSecond: number }): StreamOutlook {
    const prev = this.previous;
    if (prev && report.at > prev.at) {
      const rate = (prev.lagBytes - report.lagBytes) / ((report.at - prev.at) / 1000);
      this.drainBytesPerSecond = this.drainBytesPerSecond === undefined ? rate : 0.5 * this.drainBytesPerSecond + 0.5 * rate;
    }
    this.previous = { at: report.at, lagBytes: report.lagBytes };
    const caughtUp = isCaughtUp(report.lagSeconds);
    const drain = this.drainBytesPerSecond;
    const eta = caughtUp ? 0 : drain !== undefined && drain > 0 ? Math.round(report.lagBytes / drain) : undefined;
    return { caughtUp, lagSeconds: report.lagSeconds, lagBytes: report.lagBytes, changesPerSecond: report.changesPerSecond, ...(eta !== undefined ? { etaSeconds: eta } : {}), at: report.at };
  }
}

/** One line on the stream's state: `caught up (0.4 s behind)` or `catching up: 45 s behind (12.0 MB), about 2 min 10 s left`. */
export function describeOutlook(o: StreamOutlook): string {
  const lag = `${o.lagSeconds.toFixed(1)} s behind`;
  if (o.caughtUp) return `caught up (${lag}, ${o.changesPerSecond} changes/s)`;
  const left = o.etaSeconds !== undefined ? `about ${formatDuration(o.etaSeconds)} left at the current rate` : 'not shrinking at the moment';
  return `catching up: ${lag} (${formatBytes(o.lagBytes)}), ${left}`;
}

/** What the operator does next while the migration streams. */
export function streamingNextStep(workflowId: string, o: StreamOutlook | undefined): string {
  const cutover = `stop writes to the source and run \`pgferry cutover ${workflowId}\` (or \`pgferry cutover ${workflowId} --lock-source\`)`;
  if (!o) return `wait for the stream's first report; once it is caught up, ${cutover}`;
  if (o.caughtUp) return `caught up: ${cutover}`;
  return `wait until it is caught up (lag under ${CAUGHT_UP_SECONDS} s), then ${cutover}`;
}
