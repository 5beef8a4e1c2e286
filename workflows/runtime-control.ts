/**
 * Runtime control of the migration workflow: `pgferry pause|resume|throttle` arrive here as
 * Updates, change the ControlState, and are forwarded to the child workflow that does the work
 * at the moment (the copy, or the change stream), whose activities ask for it every second.
 * Phases of the migration workflow itself wait at safe points (between steps) while paused.
 */
import { condition, setHandler, upsertMemo, type ChildWorkflowHandle } from '@temporalio/workflow';
import type { Phase } from '../common/plan';
import type { ChildControl } from '../common/control';
import type { RateLimit, ThrottleChange } from '../common/throttle';
import { copyControlSignal, pauseUpdate, resumeUpdate, throttleUpdate } from './control-messages';
import type { ControlState } from './control-state';
import type { copyTablesWorkflow } from './copy-tables';
import type { streamChangesWorkflow } from './stream-changes';
import { pauseStreamSignal, throttleStreamSignal } from './messages';

type CopyHandle = ChildWorkflowHandle<typeof copyTablesWorkflow>;
type StreamHandle = ChildWorkflowHandle<typeof streamChangesWorkflow>;

export class RuntimeControl {
  private copy?: CopyHandle;
  private stream?: StreamHandle;

  constructor(
    readonly state: ControlState,
    private readonly phase: () => Phase,
    private readonly changed: () => void,
  ) {}

  install(): void {
    const validatePause = (paused: boolean) => () => {
      const problem = this.state.pauseProblem(this.phase(), paused);
      if (problem) throw new Error(problem);
    };
    setHandler(pauseUpdate, () => this.setPaused(true), { validator: validatePause(true), description: 'Pause the migration at its next safe point (no input). Answers the state it took.' });
    setHandler(resumeUpdate, () => this.setPaused(false), { validator: validatePause(false), description: 'Resume a paused migration (no input). Answers the state it took.' });
    setHandler(throttleUpdate, (change) => this.changeThrottle(change), {
      description: 'Change a rate limit. Input: {"phases": ["full"], "mbPerSecond": 10} (phases: full, incremental; mbPerSecond, rowsPerSecond: a number, or null to lift it).',
      validator: (change: ThrottleChange) => {
        const problem = this.state.throttleProblem(this.phase(), change);
        if (problem) throw new Error(problem);
      },
    });
  }

  /** A safe point between steps: waits here while paused. */
  async safePoint(): Promise<void> {
    await condition(() => !this.state.paused);
  }

  /** The copy workflow just started with `sent`: give it what changed since, then keep it current. */
  async attachCopy(handle: CopyHandle, sent: ChildControl): Promise<void> {
    this.copy = handle;
    const now = this.state.copyControl();
    if (now.paused !== sent.paused || !sameLimit(now.limit, sent.limit)) await this.signalCopy();
  }

  async attachStream(handle: StreamHandle, sent: ChildControl): Promise<void> {
    this.stream = handle;
    if (this.state.paused !== sent.paused) await this.signalStream('pause');
    if (!sameLimit(this.state.streamLimit(), sent.limit)) await this.signalStream('throttle');
  }

  detachCopy(): void {
    this.copy = undefined;
  }

  private async setPaused(paused: boolean) {
    this.state.setPaused(paused, Date.now());
    upsertMemo({ paused: paused || undefined }); // for `pgferry list`, which asks no worker
    this.changed();
    await Promise.all([this.signalCopy(), this.signalStream('pause')]);
    return this.state.view();
  }

  private async changeThrottle(change: ThrottleChange) {
    this.state.changeThrottle(change);
    this.changed();
    await Promise.all([this.signalCopy(), this.signalStream('throttle')]);
    return this.state.view();
  }

  // A child that has just closed cannot take a signal; there is nothing left for it to obey.
  private async signalCopy(): Promise<void> {
    await this.copy?.signal(copyControlSignal, this.state.copyControl()).catch(() => undefined);
  }

  private async signalStream(what: 'pause' | 'throttle'): Promise<void> {
    if (what === 'pause') await this.stream?.signal(pauseStreamSignal, { paused: this.state.paused }).catch(() => undefined);
    else await this.stream?.signal(throttleStreamSignal, { limit: this.state.streamLimit() }).catch(() => undefined);
  }
}

function sameLimit(a: RateLimit, b: RateLimit): boolean {
  return a.rowsPerSecond === b.rowsPerSecond && a.mbPerSecond === b.mbPerSecond;
}
