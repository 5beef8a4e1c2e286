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
