/**
 * Keeps the migration's search attributes (common/search-attributes.ts) current: the phase at
 * each change, the copy's percent in steps of 10, the stream's lag as the stream reports it.
 * Each change is a command in history, so only changes are upserted, and nothing at all when
 * the namespace does not have them (the client's check at start; histories from before).
 */
import { upsertSearchAttributes } from '@temporalio/workflow';
import { LAG_SECONDS_ATTRIBUTE, PERCENT_ATTRIBUTE, PHASE_ATTRIBUTE } from '../common/search-attributes';

const PERCENT_STEP = 10;

export class ConsoleAttributes {
  private phase?: string;
  private percentStep?: number;
  private lagSeconds?: number;

  constructor(private readonly enabled: boolean) {}

  /** The phase, and the percent when it moved a step. */
  update(phase: string, percent: number): void {
    if (!this.enabled) return;
    const step = Math.floor(percent / PERCENT_STEP);
    const pairs = [];
    if (phase !== this.phase) pairs.push({ key: PHASE_ATTRIBUTE, value: phase });
    if (step !== this.percentStep && (this.percentStep !== undefined || step > 0)) pairs.push({ key: PERCENT_ATTRIBUTE, value: Math.round(percent * 10) / 10 });
    this.phase = phase;
    this.percentStep = step;
    if (pairs.length) upsertSearchAttributes(pairs);
  }

  /** The stream's lag (rounded to a tenth of a second). */
  lag(seconds: number): void {
    if (!this.enabled) return;
    const rounded = Math.round(seconds * 10) / 10;
    if (rounded === this.lagSeconds) return;
    this.lagSeconds = rounded;
    upsertSearchAttributes([{ key: LAG_SECONDS_ATTRIBUTE, value: rounded }]);
  }
}
