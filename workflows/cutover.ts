/**
 * The cutover request of an incremental migration, as the migration workflow tracks it: the
 * cutover Update (`pgferry cutover`, defined in ./messages), and the same request as a signal
 * (from a parent migration of several databases, or sent by hand). The cutover itself is a
 * step of the migration (./stream-until-cutover.ts); the Update returns its result.
 */
import { ApplicationFailure, condition } from '@temporalio/workflow';
import { FailureType } from '../common/failure-types';
import type { CutoverRequest, CutoverResult } from '../common/plan';
import type { MigrationRun } from './migration-run';

/** A cutover in progress, as the migration workflow tracks it. */
export interface PendingCutover {
  request: CutoverRequest;
  /** Workflow time the request arrived: downtime is counted from here. */
  requestedAt: number;
  result?: CutoverResult;
  failure?: string;
}

export class CutoverRequests {
  /** The request taken, once there is one (there is at most one). */
  pending?: PendingCutover;

  constructor(private readonly run: MigrationRun) {}

  /** The Update's validator: refuses a cutover before anything is written to history when it cannot be taken. */
  validate(_request: CutoverRequest): void {
    const { run } = this;
    if (!run.incremental) throw new Error('this migration has no change stream (its types do not include incremental): there is nothing to cut over');
    if (run.state.phase === 'fallback-ready' || run.state.phase === 'rollback') throw new Error(`the migration was cut over already (phase ${run.state.phase})`);
    if (this.pending) throw new Error('cutover was already requested');
    if (run.state.phase !== 'streaming') throw new Error(`the migration is in phase ${run.state.phase}; cutover is possible once it streams changes (after the full copy, post-data and validation)`);
  }

  /** The Update: returns once the cutover is done (or failed). */
  async request(request: CutoverRequest): Promise<CutoverResult> {
    const cutover: PendingCutover = (this.pending = { request, requestedAt: Date.now() });
    await condition(() => cutover.result !== undefined || cutover.failure !== undefined);
    if (cutover.failure) throw ApplicationFailure.nonRetryable(`cutover failed: ${cutover.failure}`, FailureType.CutoverFailed);
    return cutover.result!;
  }

  /** The request gave up (`cutover --timeout`): it fails saying why, and a new one may come. */
  abandon(request: PendingCutover, why: string): void {
    request.failure = why;
    if (this.pending === request) this.pending = undefined;
  }

  /**
   * The same request as a signal, from a parent migration of several databases (it cuts all of
   * them over at once), or sent by hand (`temporal workflow signal`, the Web UI): a refusal is
   * said in the details and the report.
   */
  requestBySignal(request: CutoverRequest | undefined): void {
    const { run } = this;
    if (run.incremental && !this.pending && run.state.phase === 'streaming') {
      // Sent by hand, the input may be missing: no input is no source lock.
      this.pending = { request: { lockSource: request?.lockSource === true }, requestedAt: Date.now() };
      return;
    }
    const why = !run.incremental ? 'this migration has no change stream' : this.pending ? 'cutover was already requested' : `the migration is in phase ${run.state.phase}, cutover is possible once it streams changes`;
    run.warn(`cutoverRequest signal ignored: ${why}`);
    run.refreshDetails();
  }
}
