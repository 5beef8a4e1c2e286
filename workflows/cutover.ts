/** A cutover in progress (the cutover Update itself is defined in ./messages). */
import type { CutoverRequest, CutoverResult } from '../common/plan';

/** A cutover in progress, as the migration workflow tracks it. */
export interface PendingCutover {
  request: CutoverRequest;
  /** Workflow time the request arrived: downtime is counted from here. */
  requestedAt: number;
  result?: CutoverResult;
  failure?: string;
}
