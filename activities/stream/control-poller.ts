/**
 * What the change stream asks its workflow (by query: no history events) every second, and
 * every 100 ms while paused: whether to pause, its share of `throttle.incremental`, and where
 * to stop (the cutover marker's position, once the workflow wrote it).
 */
import { Context } from '@temporalio/activity';
import { parseLsn } from '../../common/lsn';
import { STREAM_CONTROL_QUERY, type StreamControl } from '../../common/stream';
import type { RateLimit } from '../../common/throttle';
import { owningWorkflow } from '../owning-workflow';

/** How often the workflow is asked whether to pause or stop (a cutover marker asks at once). */
export const CONTROL_POLL_MS = 1_000;
/**
 * While paused, how often it is asked whether to resume: a resumed stream starts reading within
 * this, not up to a second later (the backlog a pause piles up is what an operator waits on).
 * A query answered from the worker's cache: cheap at this rate.
 */
export const PAUSED_POLL_MS = 100;

/** The control query to the workflow that runs this activity. */
export function askOwningWorkflow(): Promise<StreamControl> {
  const { workflowId, runId } = owningWorkflow();
  return Context.current().client.workflow.getHandle(workflowId, runId).query<StreamControl>(STREAM_CONTROL_QUERY);
}

export class ControlPoller {
  private lastPoll = 0;
  private control: StreamControl = {};

  constructor(private readonly ask: () => Promise<StreamControl> = askOwningWorkflow) {}

  due(now: number): boolean {
    return this.untilDue(now) === 0;
  }

  /** Milliseconds until the workflow is to be asked again (0: now). */
  untilDue(now: number): number {
    return Math.max(0, this.lastPoll + (this.paused ? PAUSED_POLL_MS : CONTROL_POLL_MS) - now);
  }

  async poll(): Promise<StreamControl> {
    this.lastPoll = Date.now();
    this.control = await this.ask();
    return this.control;
  }

  get paused(): boolean {
    return this.control.paused === true;
  }

  get limit(): RateLimit {
    return this.control.limit ?? {};
  }

  /** From the last poll: the cutover position is set and applied. */
  stopReached(applied: bigint): boolean {
    return this.control.stopAtLsn !== undefined && applied >= parseLsn(this.control.stopAtLsn);
  }

  /** After a cutover marker: the workflow learns its position a moment after writing it. */
  async awaitStopAt(applied: bigint, waitMs = 3_000): Promise<boolean> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const { stopAtLsn } = await this.poll();
      if (stopAtLsn !== undefined) return applied >= parseLsn(stopAtLsn);
      if (Date.now() > deadline) return false; // a marker of an earlier, abandoned cutover
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
