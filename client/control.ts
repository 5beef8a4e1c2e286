/**
 * Runtime control from the client: pause, resume and throttle a running migration. Each is a
 * Temporal Update, so the call returns the state the workflow took (or its refusal, e.g. for a
 * finished migration) rather than a mere "sent".
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { MULTI_DATABASE_WORKFLOW } from '../common/databases';
import type { ControlView } from '../common/control';
import { multiProgressQuery } from '../workflows/messages';
import { pauseUpdate, resumeUpdate, throttleUpdate } from '../workflows/control-messages';
import { THROTTLE_PHASES, throttleChangeProblem, type ThrottleChange, type ThrottlePhase } from '../common/throttle';

export async function pauseMigration(client: Client, workflowId: string): Promise<ControlView> {
  return controlUpdate(client, workflowId, 'pause', (h) => h.executeUpdate(pauseUpdate));
}

export async function resumeMigration(client: Client, workflowId: string): Promise<ControlView> {
  return controlUpdate(client, workflowId, 'resume', (h) => h.executeUpdate(resumeUpdate));
}

export async function throttleMigration(client: Client, workflowId: string, change: ThrottleChange): Promise<ControlView> {
  const problem = throttleChangeProblem(change);
  if (problem) throw new InvalidControlRequest(problem);
  return controlUpdate(client, workflowId, 'throttle', (h) => h.executeUpdate(throttleUpdate, { args: [change] }));
}

/** Refused before anything was sent (exit code 2). */
export class InvalidControlRequest extends Error {}

/** `pgferry throttle` options as a change: numbers set, --unlimited clears, --phase narrows. */
export function throttleChangeFromOptions(opts: { mbPerSecond?: string; rowsPerSecond?: string; phase?: string; unlimited?: boolean }): ThrottleChange {
  const phases: ThrottlePhase[] = opts.phase === undefined ? [...THROTTLE_PHASES] : [opts.phase as ThrottlePhase];
  if (opts.phase !== undefined && !THROTTLE_PHASES.includes(opts.phase as ThrottlePhase)) {
    throw new InvalidControlRequest(`--phase must be one of ${THROTTLE_PHASES.join(', ')}`);
  }
  if (opts.unlimited) {
    if (opts.mbPerSecond !== undefined || opts.rowsPerSecond !== undefined) throw new InvalidControlRequest('--unlimited removes both limits: give it alone');
    return { phases, mbPerSecond: null, rowsPerSecond: null };
  }
  const number = (name: string, value?: string) => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidControlRequest(`${name} must be a positive number, got ${value}`);
    return n;
  };
  const change = { phases, mbPerSecond: number('--mb-per-second', opts.mbPerSecond), rowsPerSecond: number('--rows-per-second', opts.rowsPerSecond) };
  if (change.mbPerSecond === undefined && change.rowsPerSecond === undefined) {
    throw new InvalidControlRequest('give --mb-per-second, --rows-per-second or --unlimited');
  }
  return change;
}

async function controlUpdate(client: Client, workflowId: string, verb: string, send: (handle: WorkflowHandle) => Promise<ControlView>): Promise<ControlView> {
  const handle = client.workflow.getHandle(workflowId);
  const { status, type } = await handle.describe();
  // An Update to a closed workflow fails with a bare "workflow execution already completed".
  if (status.name !== 'RUNNING') throw new Error(`migration ${workflowId} has already ended (${status.name.toLowerCase()}): there is nothing to ${verb}`);
  if (type === MULTI_DATABASE_WORKFLOW) {
    // Each database is a migration of its own, with its own limits: control them one by one.
    const { databases } = await handle.query(multiProgressQuery);
    throw new InvalidControlRequest(`${workflowId} migrates several databases: ${verb} each database's migration by its id (${databases.map((d) => d.workflowId).join(', ')})`);
  }
  return send(handle);
}
