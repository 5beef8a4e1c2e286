/**
 * Keeps a copy activity's RateGate in step with its copy workflow: pause and this activity's
 * share of the migration's limit, asked every second by query (no history events), so a
 * `pgferry pause` or `pgferry throttle` reaches a running COPY within about a second.
 */
import { Context } from '@temporalio/activity';
import { COPY_CONTROL_QUERY, type ActivityControl } from '../../common/control';
import { owningWorkflow } from '../owning-workflow';
import { RateGate } from '../rate/rate-gate';

const POLL_MS = 1_000;

export class CopyControlPoller {
  readonly gate = new RateGate();
  /** Copy lanes with nothing left to copy, as of the last poll. */
  idleLanes = 0;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;

  /** Polls once (so a paused or throttled migration is obeyed from the first row), then every second. */
  async start(): Promise<void> {
    const { client } = Context.current();
    const { workflowId, runId } = owningWorkflow();
    const handle = client.workflow.getHandle(workflowId, runId);
    const poll = async () => {
      if (this.polling) return;
      this.polling = true;
      try {
        const control = await handle.query<ActivityControl>(COPY_CONTROL_QUERY);
        this.gate.obey(control);
        this.idleLanes = control.idleLanes ?? 0;
      } catch {
        // No worker answered in time, or the workflow is busy: keep the last known control.
      } finally {
        this.polling = false;
      }
    };
    await poll();
    this.timer = setInterval(() => void poll(), POLL_MS);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.gate.obey({ paused: false, limit: {} }); // nothing may stay parked
  }
}
