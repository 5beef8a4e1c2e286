/** Reading Temporal failure chains: what went wrong at the bottom, and of which type. */
import { ApplicationFailure, TemporalFailure } from '@temporalio/workflow';
import { FailureType } from '../common/failure-types';

/** The innermost ApplicationFailure type in a chain (activity or child failures wrap it). */
export function failureType(err: unknown): string | undefined {
  let current: unknown = err;
  let found: string | undefined;
  while (current instanceof Error) {
    if (current instanceof ApplicationFailure && current.type) found = current.type;
    current = (current as TemporalFailure).cause;
  }
  return found;
}

/**
 * What copies on dead workers had read, to be read again, as a lost snapshot's failure carries
 * it (`details: [{ reread, units }]`: from copyUnit, one unit, up through the copy workflow).
 */
export function rereadWork(err: unknown): { tables: number; bytes: number } {
  let current: unknown = err;
  while (current instanceof Error) {
    if (current instanceof ApplicationFailure) {
      const found = current.details?.[0] as { reread?: unknown; units?: unknown } | undefined;
      if (typeof found?.reread === 'number') return { tables: typeof found.units === 'number' ? found.units : 1, bytes: found.reread };
    }
    current = (current as TemporalFailure).cause;
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
