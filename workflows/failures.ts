/** Reading Temporal failure chains: what went wrong at the bottom, and of which type. */
import { ApplicationFailure, TemporalFailure } from '@temporalio/workflow';
import { FailureType } from '../common/failure-types';

/** The ApplicationFailures of a chain, outermost first (activity and child failures wrap them). */
function applicationFailures(err: unknown): ApplicationFailure[] {
  const found: ApplicationFailure[] = [];
  for (let current: unknown = err; current instanceof Error; current = (current as TemporalFailure).cause) {
    if (current instanceof ApplicationFailure) found.push(current);
  }
  return found;
}

/** The innermost ApplicationFailure type in a chain. */
export function failureType(err: unknown): string | undefined {
  return applicationFailures(err)
    .map((f) => f.type)
    .filter((t) => t)
    .pop() ?? undefined;
}

/**
 * What copies on dead workers had read, to be read again, as a lost snapshot's failure carries
 * it (`details: [{ reread, units }]`: from copyUnit, one unit, up through the copy workflow).
 */
export function rereadWork(err: unknown): { tables: number; bytes: number } {
  for (const failure of applicationFailures(err)) {
    const found = failure.details?.[0] as { reread?: unknown; units?: unknown } | undefined;
    if (typeof found?.reread === 'number') return { tables: typeof found.units === 'number' ? found.units : 1, bytes: found.reread };
  }
  return { tables: 0, bytes: 0 };
}

export function isSnapshotLost(err: unknown): boolean {
  return failureType(err) === FailureType.SnapshotLost;
}

/** The innermost message, which is the one that names the table and the cause. */
export function rootMessage(err: unknown): string {
  let current: unknown = err;
  let message = String(err);
  while (current instanceof Error) {
    message = current.message || message;
    current = (current as TemporalFailure).cause;
  }
  return message;
}
