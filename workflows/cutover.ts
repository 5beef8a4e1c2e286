/**
 * The cutover message: an Update, so `pgferry cutover` waits for and gets the result (the
 * downtime and the validation) or the reason it failed. Its validator refuses a cutover before
 * anything is written to history when the migration cannot take it yet.
 */
import { defineUpdate } from '@temporalio/workflow';
import type { CutoverRequest, CutoverResult } from '../common/plan';

export const cutoverUpdate = defineUpdate<CutoverResult, [CutoverRequest]>('cutover');

/** A cutover in progress, as the migration workflow tracks it. */
export interface PendingCutover {
  request: CutoverRequest;
  /** Workflow time the request arrived: downtime is counted from here. */
  requestedAt: number;
  result?: CutoverResult;
  failure?: string;
}
