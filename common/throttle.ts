/**
 * Rate limits of a migration: what the spec's `throttle` and `pgferry throttle` set, and how a
 * limit for the whole migration is split between the activities running at the same time.
 * Pure logic, shared by the client, the workflows and the activities.
 */

/** Bytes in one MB of a limit: MiB, as every MB/s pgferry reports. */
export const BYTES_PER_MB = 1_048_576;

/** Absent = unlimited. */
export interface RateLimit {
  rowsPerSecond?: number;
  mbPerSecond?: number;
}

export const THROTTLE_PHASES = ['full', 'incremental'] as const;
export type ThrottlePhase = (typeof THROTTLE_PHASES)[number];

/** `full`: the table copies. `incremental`: the change stream. Each is for the whole migration. */
export type Throttle = Record<ThrottlePhase, RateLimit>;

/** What `pgferry throttle` asks for: a number sets a field, null makes it unlimited, absent keeps it. */
export interface ThrottleChange {
  phases: ThrottlePhase[];
  rowsPerSecond?: number | null;
  mbPerSecond?: number | null;
}

export function unlimited(): Throttle {
  return { full: {}, incremental: {} };
}

/** Why a change cannot be applied, or undefined when it can. */
export function throttleChangeProblem(change: ThrottleChange): string | undefined {
  if (!Array.isArray(change.phases) || change.phases.length === 0 || change.phases.some((p) => !THROTTLE_PHASES.includes(p))) {
    return `name the phases to throttle: ${THROTTLE_PHASES.join(', ')}`;
  }
  for (const field of ['rowsPerSecond', 'mbPerSecond'] as const) {
    const value = change[field];
    if (value !== undefined && value !== null && !(typeof value === 'number' && Number.isFinite(value) && value > 0)) {
      return `${field} must be a positive number (or unlimited), got ${String(value)}`;
    }
  }
  if (change.rowsPerSecond === undefined && change.mbPerSecond === undefined) return 'nothing to change: give a rows or MB per second limit, or unlimited';
  return undefined;
}

export function applyThrottleChange(throttle: Throttle, change: ThrottleChange): Throttle {
  const next: Throttle = { full: { ...throttle.full }, incremental: { ...throttle.incremental } };
  for (const phase of change.phases) {
    for (const field of ['rowsPerSecond', 'mbPerSecond'] as const) {
      const value = change[field];
      if (value === null) delete next[phase][field];
      else if (value !== undefined) next[phase][field] = value;
    }
  }
  return next;
}

/** One of `parts` activities' share of a limit for all of them (equal shares). */
export function shareOf(limit: RateLimit, parts: number): RateLimit {
  const n = Math.max(1, parts);
  const share: RateLimit = {};
  if (limit.rowsPerSecond !== undefined) share.rowsPerSecond = limit.rowsPerSecond / n;
  if (limit.mbPerSecond !== undefined) share.mbPerSecond = limit.mbPerSecond / n;
  return share;
}

export function isUnlimited(limit: RateLimit): boolean {
  return limit.rowsPerSecond === undefined && limit.mbPerSecond === undefined;
}

/** "5 MB/s, 1000 rows/s", or "unlimited". */
export function describeLimit(limit: RateLimit): string {
  const parts: string[] = [];
  if (limit.mbPerSecond !== undefined) parts.push(`${limit.mbPerSecond} MB/s`);
  if (limit.rowsPerSecond !== undefined) parts.push(`${limit.rowsPerSecond} rows/s`);
  return parts.length ? parts.join(', ') : 'unlimited';
}
