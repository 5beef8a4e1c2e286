/**
 * Child workflow of the streaming phase: keeps the change stream activity running until the
 * migration asks it to stop at the cutover position, collects the stream's reports for the
 * `progress` query and the Web UI, and continues-as-new before its history grows large, so a
 * stream can run for weeks.
 */
import {
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  allHandlersFinished,
  workflowInfo,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { StreamChangesInput } from '../activities/stream/stream-changes';
import { formatBytes } from '../common/format';
import { addDdlRecords, type DdlProgress } from '../common/ddl';
import { remainingSyncPlan } from '../common/sync-plan';
import { displayName } from '../common/plan';
import { changeCount, CountTotals, type StreamProgress, type TableChangeCounts } from '../common/stream';
import type { RateLimit } from '../common/throttle';
import { pauseStreamSignal, stopAtSignal, streamControlQuery, streamProgressQuery, streamStatsSignal, throttleStreamSignal } from './messages';
import * as options from './activity-options';
import { CatchUpTracker, describeOutlook, streamingNextStep } from '../common/stream-outlook';
import { OutlookReporter } from './outlook-reporter';

const { streamChanges } = proxyActivities<Activities>(options.stream);


export interface StreamWorkflowInput extends StreamChangesInput {
  /** History events after which this workflow continues as new. */
  historyBudget: number;
  /** Carried over continue-as-new. */
  progress?: StreamProgress;
  stopAtLsn?: string;
  paused?: boolean;
  limit?: RateLimit;
  /** The migration to tell when the stream catches up or falls behind (absent in histories from before). */
  reportTo?: string;
}

export interface StreamWorkflowResult {
  appliedLsn: string;
  progress: StreamProgress;
}

/** A stream child workflow as its parent watches it: `ended` once it returns or fails. */
export interface RunningStream {
  handle: ChildWorkflowHandle<typeof streamChangesWorkflow>;
  result: Promise<StreamWorkflowResult>;
  ended: boolean;
  failure?: unknown;
}

export function watchStream(handle: ChildWorkflowHandle<typeof streamChangesWorkflow>): RunningStream {
  const stream: RunningStream = { handle, result: handle.result(), ended: false };
  stream.result.then(
    () => (stream.ended = true),
    (err) => {
      stream.ended = true;
      stream.failure = err;
    },
  );
  return stream;
}

/** Tables listed in the Web UI details. */
const DETAIL_ROWS = 40;

export async function streamChangesWorkflow(input: StreamWorkflowInput): Promise<StreamWorkflowResult> {
  const progress: StreamProgress = input.progress ?? {
    state: 'starting',
    lagBytes: 0,
    lagSeconds: 0,
    changesPerSecond: 0,
    totalChanges: 0,
    transactions: 0,
    tables: [],
  };
  const tables = new CountTotals(progress.tables);
  const snapshot = (): StreamProgress => ({ ...progress, tables: tables.list() });
  let stopAtLsn = input.stopAtLsn;
  let paused = input.paused ?? false;
  let limit = input.limit ?? {};
  progress.stopAtLsn = stopAtLsn;

  const catchUp = new CatchUpTracker();
  const reporter = input.reportTo ? new OutlookReporter(input.reportTo) : undefined;

  setHandler(streamProgressQuery, snapshot);
  // Cutover lifts pause and limits: the downtime should not wait for them.
  setHandler(streamControlQuery, () => ({ stopAtLsn, paused: paused && !stopAtLsn, limit: stopAtLsn ? {} : limit }));
  setHandler(throttleStreamSignal, ({ limit: l }) => void (limit = l));
  setHandler(pauseStreamSignal, ({ paused: p }) => {
    paused = p;
    if (progress.state === 'streaming' || progress.state === 'paused' || progress.state === 'starting') progress.state = p ? 'paused' : 'streaming';
    refresh();
  });
  setHandler(stopAtSignal, ({ lsn }) => {
    stopAtLsn = lsn;
    progress.stopAtLsn = lsn;
    progress.state = lsn !== undefined ? 'stopping' : paused ? 'paused' : 'streaming';
    refresh();
  });
  setHandler(streamStatsSignal, (stats) => {
    Object.assign(progress, {
      appliedLsn: stats.appliedLsn,
      sourceLsn: stats.sourceLsn,
      lagBytes: stats.lagBytes,
      lagSeconds: stats.lagSeconds,
      changesPerSecond: stats.changesPerSecond,
      updatedAt: stats.at,
    });
    if (progress.state === 'starting') progress.state = paused ? 'paused' : 'streaming';
    progress.outlook = catchUp.observe(stats);
    if (reporter?.due(progress.outlook)) reporter.send(progress.outlook);
    progress.transactions += stats.transactions;
    tables.add(stats.tableDeltas);
    progress.totalChanges += stats.tableDeltas.reduce((sum, d) => sum + changeCount(d), 0);
    if (stats.ddl?.length) progress.ddl = addDdlRecords(progress.ddl, stats.ddl);
    refresh();
  });

  function refresh() {
    setCurrentDetails(streamDetails(progress, tables.list(), input.migrationId));
  }
  refresh();

  const { progress: _carried, stopAtLsn: _stop, paused: _paused, limit: _limit, historyBudget, reportTo: _reportTo, ...activityInput } = input;
  const scope = new CancellationScope();
  let result: { appliedLsn: string } | undefined;
  let failure: unknown;
  const run = scope.run(() => streamChanges.executeWithOptions({ summary: `stream changes into ${input.target.host}:${input.target.port}/${input.target.database}` }, [activityInput]));
  run.then(
    (r) => (result = r),
    (err) => (failure = err),
  );

  // Stats reports cost history events: continue-as-new well before Temporal's limits.
  const historyFull = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > historyBudget;
  await condition(() => result !== undefined || failure !== undefined || historyFull());
  if (failure) throw failure;
  if (!result) {
    // History is getting long: stop the activity (it resumes from the target's position) and go on in a new run.
    scope.cancel();
    await run.catch((err) => {
      if (!isCancellation(err)) throw err;
    });
  }
  if (result) {
    // Stopped at the cutover position (possibly just as it was being cancelled).
    progress.state = 'stopped';
    progress.appliedLsn = result.appliedLsn;
    refresh();
    return { appliedLsn: result.appliedLsn, progress: snapshot() };
  }
  await condition(allHandlersFinished);
  // A sync plan the stream has passed filters nothing: it is not carried on.
  const syncPlan = remainingSyncPlan(input.syncPlan, progress.appliedLsn);
  const { syncPlan: _passed, ...rest } = input;
  return continueAsNew<typeof streamChangesWorkflow>({ ...rest, ...(syncPlan ? { syncPlan } : {}), progress: snapshot(), stopAtLsn, paused, limit });
}

function streamDetails(p: StreamProgress, tables: TableChangeCounts[], migrationId: string): string {
  const busiest = [...tables].sort((a, b) => changeCount(b) - changeCount(a)).slice(0, DETAIL_ROWS);
  const streaming = p.state === 'streaming' || p.state === 'paused' || p.state === 'starting';
  return [
    `**Change stream: ${p.state}**${p.outlook ? ` · ${describeOutlook(p.outlook)}` : ''}`,
    '',
    ...(streaming ? [`**Next step:** ${streamingNextStep(migrationId, p.outlook)}`, ''] : []),
    `| applied LSN | source LSN | lag | changes/s | changes | transactions |`,
    `|---|---|---|---|---|---|`,
    `| ${p.appliedLsn ?? '-'} | ${p.sourceLsn ?? '-'} | ${formatBytes(p.lagBytes)}, ${p.lagSeconds.toFixed(2)} s | ${p.changesPerSecond} | ${p.totalChanges} | ${p.transactions} |`,
    p.stopAtLsn ? `\nCutover: stopping at ${p.stopAtLsn}` : '',
    ...ddlDetails(p.ddl),
    '',
    '| table | inserts | updates | deletes | truncates |',
    '|---|---:|---:|---:|---:|',
    ...busiest.map((t) => `| ${displayName(t)} | ${t.inserts} | ${t.updates} | ${t.deletes} | ${t.truncates} |`),
  ].join('\n');
}

/** DDL replicated from the source: how many, and the last statement. */
function ddlDetails(ddl: DdlProgress | undefined): string[] {
  if (!ddl) return [];
  const last = ddl.last ? ` — last (${ddl.last.lsn}, ${ddl.last.action}): \`${ddl.last.statement.replace(/`/g, "'")}\`` : '';
  return ['', `DDL replicated: ${ddl.applied} applied, ${ddl.skipped} skipped${last}`];
}
