/**
 * The runtime control API of the migration workflow (`pgferry pause|resume|throttle`) and what
 * it forwards to its copy child workflow.
 *
 * Pause, resume and throttle are Updates rather than Signals: the validator refuses them
 * (finished migration, bad limit) before anything is written to history, and the caller gets
 * the new state back as the acknowledgement that the workflow took it.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { COPY_CONTROL_QUERY, PAUSE_UPDATE, RESUME_UPDATE, THROTTLE_UPDATE, type ActivityControl, type ChildControl, type ControlView } from '../common/control';
import type { ThrottleChange } from '../common/throttle';

export const pauseUpdate = defineUpdate<ControlView, []>(PAUSE_UPDATE);
export const resumeUpdate = defineUpdate<ControlView, []>(RESUME_UPDATE);
export const throttleUpdate = defineUpdate<ControlView, [ThrottleChange]>(THROTTLE_UPDATE);

/** Migration → copy workflow: the pause state and `throttle.full`, whenever they change. */
export const copyControlSignal = defineSignal<[ChildControl]>('copyControl');
/** Copy activity → copy workflow, every second: pause, and this activity's share of the limit. */
export const copyControlQuery = defineQuery<ActivityControl>(COPY_CONTROL_QUERY);
