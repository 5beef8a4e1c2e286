/**
 * The typed client library behind the CLI: start, progress, result, cancel, list, precheck.
 * Everything the CLI prints comes from here; scripts and tests can use it directly.
 */
import type { VerificationRecord, VerifyRequest } from '../common/verification';
import { WorkflowFailedError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import { describeConnection } from '../common/connection';
import { tableMbPerSecond, type CutoverRequest, type CutoverResult, type MigrationProgress, type MigrationReport } from '../common/plan';
import type { PrecheckReport } from '../common/precheck';
import type { MigrationSpec } from '../common/spec';
import { MULTI_DATABASE_WORKFLOW, type MultiCutoverRequest, type MultiCutoverResult, type MultiDatabaseProgress, type MultiDatabaseReport } from '../common/databases';
import type { FinishResult, RollbackResult } from '../common/way-back';
import { rollbackUpdate, finishUpdate, verifyUpdate, cutoverUpdate, multiCutoverUpdate, multiProgressQuery, progressQuery, streamProgressQuery } from '../workflows/messages';
import type { TemporalSettings } from './temporal';
import { checkSearchAttributes } from './search-attributes';
import { LAG_SECONDS_ATTRIBUTE, PHASE_ATTRIBUTE, SOURCE_ATTRIBUTE, startingAttributes, TARGET_ATTRIBUTE } from '../common/search-attributes';

export const MIGRATION_WORKFLOW = 'migrationWorkflow';

export function defaultWorkflowId(spec: MigrationSpec, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
  return `pgferry-${spec.databases ? `${spec.databases.length}-databases` : spec.source.database}-${stamp}`;
}

export function migrationSummary(spec: MigrationSpec): string {
  const what = spec.databases ? ` databases ${spec.databases.map((d) => (d.target && d.target !== d.source ? `${d.source}→${d.target}` : d.source)).join(', ')}` : '';
  return `${describeConnection(spec.source)} → ${describeConnection(spec.target)}${what} (${spec.types.join(', ')})`.slice(0, 200);
}

function migrationDetails(spec: MigrationSpec): string {
  return [
    `**Source:** ${describeConnection(spec.source)}`,
    `**Target:** ${describeConnection(spec.target)}`,
    `**Types:** ${spec.types.join(', ')} · **Tables in parallel:** ${spec.parallelism.tables} · **Validation:** ${spec.validation} · **Conflicts:** ${spec.conflicts}`,
    `**Retry windows:** connection ${spec.retry.connectionMinutes} min, other ${spec.retry.otherMinutes} min`,
  ].join('\n\n');
}

export async function startMigration(
  client: Client,
  settings: TemporalSettings,
  spec: MigrationSpec,
  workflowId = defaultWorkflowId(spec),
  notice: (message: string) => void = () => undefined,
): Promise<string> {
  const attributes = await checkSearchAttributes(client, settings.namespace);
  if (attributes.notice) notice(attributes.notice);
  // Several databases run as a parent workflow with a child migration per database.
  await client.workflow.start(spec.databases ? MULTI_DATABASE_WORKFLOW : MIGRATION_WORKFLOW, {
    taskQueue: settings.taskQueue,
    workflowId,
    args: [{ spec, ...(attributes.registered ? { searchAttributes: true } : {}) }],
    // Several databases: the parent shows where from and to; each database's child its phase, lag, percent.
    ...(attributes.registered ? { typedSearchAttributes: startingAttributes(spec).filter((a) => !spec.databases || a.key === SOURCE_ATTRIBUTE || a.key === TARGET_ATTRIBUTE) } : {}),
    staticSummary: migrationSummary(spec),
    staticDetails: migrationDetails(spec),
    // Lets `pgferry list` show a scheduled migration without asking a worker.
    memo: spec.startAt ? { startAt: spec.startAt } : undefined,
  });
  return workflowId;
}

/** Several databases: the parent's view, with each database's own progress when it answers. */
export interface DatabasesProgress extends MultiDatabaseProgress {
  progress: Record<string, MigrationProgress | undefined>;
}

export type AnyProgress = MigrationProgress | DatabasesProgress;
export type AnyReport = MigrationReport | MultiDatabaseReport;

/**
 * The report as users read it (`--json`): each table with its MB/s. The workflow's result leaves
 * it out, since it follows from bytes and time and every byte of a 10,000-table result is copied
 * several times on its way out of the worker.
 */
export function withTableRates(report: AnyReport): AnyReport {
  if ('kind' in report) return { ...report, databases: report.databases.map((d) => (d.report ? { ...d, report: withTableRates(d.report) as MigrationReport } : d)) };
  return { ...report, tables: report.tables.map((t) => ({ ...t, mbPerSecond: tableMbPerSecond(t) })) };
}

export type MigrationStatus =
  | { state: 'running'; progress?: AnyProgress; description: WorkflowExecutionDescription }
  | { state: 'completed'; report: AnyReport; description: WorkflowExecutionDescription }
  | { state: 'failed' | 'cancelled' | 'terminated' | 'timed_out'; error: string; description: WorkflowExecutionDescription; progress?: AnyProgress };

export async function migrationStatus(client: Client, workflowId: string): Promise<MigrationStatus> {
  const handle = client.workflow.getHandle(workflowId);
  const description = await handle.describe();
  const status = description.status.name;
  if (status === 'RUNNING' || status === 'CONTINUED_AS_NEW') {
    if (description.type === MULTI_DATABASE_WORKFLOW) return { state: 'running', progress: await databasesProgress(client, workflowId), description };
    // Queries need a running worker; without one the status still shows, without details.
    const progress = await handle.query(progressQuery).catch(() => undefined);
    if (progress?.streamWorkflowId) {
      // The stream's lag and rates live in its own workflow (its reports would bloat this one's history).
      progress.stream = await client.workflow.getHandle(progress.streamWorkflowId).query(streamProgressQuery).catch(() => undefined);
    }
    return { state: 'running', progress, description };
  }
  if (status === 'COMPLETED') return { state: 'completed', report: withTableRates((await handle.result()) as AnyReport), description };
  const error = await handle.result().then(
    () => 'unknown',
    (err) => failureText(err),
  );
  const state = status === 'CANCELLED' ? 'cancelled' : status === 'TERMINATED' ? 'terminated' : status === 'TIMED_OUT' ? 'timed_out' : 'failed';
  return { state, error, description };
}

/** The innermost failure message: the one that says which table and why. */
export function failureText(err: unknown): string {
  let current: unknown = err instanceof WorkflowFailedError ? err.cause : err;
  let message = current instanceof Error ? current.message : String(current);
  while (current instanceof Error && (current as { cause?: unknown }).cause) {
    current = (current as { cause?: unknown }).cause;
    if (current instanceof Error && current.message) message = current.message;
  }
  return message;
}

/**
 * Cutover (incremental migrations): a Temporal Update, so this returns only when the target is
 * ready, with the downtime and the validation, or throws why it could not be done.
 */
export async function cutoverMigration(client: Client, workflowId: string, request: CutoverRequest): Promise<CutoverResult> {
  return client.workflow.getHandle(workflowId).executeUpdate(cutoverUpdate, { args: [request] });
}

/** One verification round while streaming (`pgferry verify`): waits for its result. */
export async function verifyMigration(client: Client, workflowId: string, request: VerifyRequest): Promise<VerificationRecord> {
  return client.workflow.getHandle(workflowId).executeUpdate(verifyUpdate, { args: [request] });
}

/** The way back: roll back to the source (phase fallback-ready). */
export async function rollbackMigration(client: Client, workflowId: string): Promise<RollbackResult> {
  return client.workflow.getHandle(workflowId).executeUpdate(rollbackUpdate, { args: [{}] });
}

/** The way back given up: the reverse stream ends and what it used is dropped. */
export async function finishMigration(client: Client, workflowId: string): Promise<FinishResult> {
  return client.workflow.getHandle(workflowId).executeUpdate(finishUpdate);
}

/** Several databases: one cutover for all of them (or the ones named), each database's result. */
export async function cutoverDatabases(client: Client, workflowId: string, request: MultiCutoverRequest): Promise<MultiCutoverResult> {
  return client.workflow.getHandle(workflowId).executeUpdate(multiCutoverUpdate, { args: [request] });
}

export async function isMultiDatabase(client: Client, workflowId: string): Promise<boolean> {
  return (await client.workflow.getHandle(workflowId).describe()).type === MULTI_DATABASE_WORKFLOW;
}

async function databasesProgress(client: Client, workflowId: string): Promise<DatabasesProgress | undefined> {
  const parent = await client.workflow.getHandle(workflowId).query(multiProgressQuery).catch(() => undefined);
  if (!parent) return undefined;
  const progress: DatabasesProgress['progress'] = {};
  await Promise.all(
    parent.databases
      .filter((d) => d.state !== 'pending')
      .map(async (d) => {
        progress[d.database] = await client.workflow.getHandle(d.workflowId).query(progressQuery).catch(() => undefined);
      }),
  );
  return { ...parent, progress };
}

export async function cancelMigration(client: Client, workflowId: string): Promise<void> {
  await client.workflow.getHandle(workflowId).cancel();
}

export interface MigrationListing {
  workflowId: string;
  status: string;
  startTime: Date;
  closeTime?: Date;
  /** From pgferry's search attributes, where the namespace has them. */
  phase?: string;
  lagSeconds?: number;
}

export async function listMigrations(client: Client, limit = 50): Promise<MigrationListing[]> {
  const out: MigrationListing[] = [];
  for await (const wf of client.workflow.list({ query: `WorkflowType = '${MIGRATION_WORKFLOW}' OR WorkflowType = '${MULTI_DATABASE_WORKFLOW}'` })) {
    const phase = wf.typedSearchAttributes.get(PHASE_ATTRIBUTE);
    const lagSeconds = wf.typedSearchAttributes.get(LAG_SECONDS_ATTRIBUTE);
    out.push({
      workflowId: wf.workflowId,
      status: listedStatus(wf.status.name, wf.memo),
      startTime: wf.startTime,
      closeTime: wf.closeTime,
      ...(phase !== undefined ? { phase } : {}),
      ...(lagSeconds !== undefined && phase === 'streaming' ? { lagSeconds } : {}),
    });
    if (out.length >= limit) break;
  }
  return out;
}

/** RUNNING, told apart: PAUSED (the workflow's memo) or SCHEDULED (its start time is ahead). */
function listedStatus(status: string, memo: Record<string, unknown> | undefined, now = Date.now()): string {
  if (status !== 'RUNNING') return status;
  if (memo?.paused) return 'PAUSED';
  const startAt = typeof memo?.startAt === 'string' ? memo.startAt : undefined;
  if (startAt && Date.parse(startAt) > now) return `SCHEDULED (starts ${new Date(startAt).toISOString()})`;
  return status;
}

export async function runPrecheck(client: Client, settings: TemporalSettings, spec: MigrationSpec): Promise<PrecheckReport> {
  return client.workflow.execute('precheckWorkflow', {
    taskQueue: settings.taskQueue,
    workflowId: `pgferry-precheck-${spec.source.database}-${Date.now()}`,
    args: [{ spec }],
    staticSummary: `precheck ${migrationSummary(spec)}`.slice(0, 200),
  });
}
