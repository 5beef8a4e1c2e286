/**
 * Several databases, one migration: a child migration workflow per database, at most
 * `parallelism.databases` copying at once (a database that streams changes, or has ended,
 * frees its place), a combined progress and report, and one cutover for all of them.
 *
 * Each child is a complete migration of its own (`<id>/db-<database>`): its page in the Web UI,
 * `pgferry status` and `pgferry cutover` work on it directly, so one database can also be cut
 * over alone. Cancelling the parent cancels every child, which releases its source resources.
 */
import {
  ApplicationFailure,
  condition,
  isCancellation,
  setCurrentDetails,
  setHandler,
  startChild,
  workflowInfo,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import {
  databaseSpec,
  databaseWorkflowId,
  type DatabaseOutcome,
  type DatabaseProgress,
  type MultiCutoverRequest,
  type MultiCutoverResult,
  type MultiDatabaseReport,
} from '../common/databases';
import { describeConnection } from '../common/connection';
import { FailureType } from '../common/failure-types';
import type { CutoverResult, MigrationReport } from '../common/plan';
import type { MigrationSpec } from '../common/spec';
import { startingAttributes } from '../common/search-attributes';
import { migrationWorkflow } from './migration';
import { cutoverSignal, databasePhaseSignal, INTERNAL_MESSAGE, multiCutoverUpdate, multiProgressQuery } from './messages';
import { rootMessage } from './failures';

/** A database's place is free again once it streams (it may wait for cutover for weeks) or ends. */
const FREES_A_PLACE = new Set(['streaming', 'cutover', 'done', 'failed', 'cancelled']);

export async function multiDatabaseWorkflow({ spec, searchAttributes }: { spec: MigrationSpec; searchAttributes?: boolean }): Promise<MultiDatabaseReport> {
  const startedAt = Date.now();
  const id = workflowInfo().workflowId;
  const entries = spec.databases ?? [];
  const databases: DatabaseProgress[] = entries.map((e) => ({ database: e.source, target: e.target ?? e.source, workflowId: databaseWorkflowId(id, e.source), state: 'pending' }));
  const byId = new Map(databases.map((d) => [d.workflowId, d]));
  const outcomes = new Map<string, DatabaseOutcome>();
  const handles = new Map<string, ChildWorkflowHandle<typeof migrationWorkflow>>();
  const incremental = spec.types.includes('incremental');

  const refresh = () => setCurrentDetails(details(databases));
  setHandler(multiProgressQuery, () => ({ kind: 'databases', databases, startedAt }));
  setHandler(databasePhaseSignal, ({ workflowId, phase }) => {
    const d = byId.get(workflowId);
    if (d && !outcomes.has(workflowId)) d.state = phase;
    refresh();
  }, { description: INTERNAL_MESSAGE });
  setHandler(
    multiCutoverUpdate,
    async (request) => {
      const chosen = cutoverCandidates(databases, request);
      const results: MultiCutoverResult = {};
      // Every database at once: downtime is the slowest one's, not the sum.
      await Promise.all(
        chosen.map(async (d) => {
          await handles.get(d.workflowId)!.signal(cutoverSignal, { lockSource: request.lockSource });
          await condition(() => outcomes.has(d.workflowId));
          const outcome = outcomes.get(d.workflowId)!;
          if (outcome.state !== 'completed' || !outcome.report?.cutover) throw ApplicationFailure.nonRetryable(`cutover of database ${d.database} failed: ${outcome.error ?? 'no cutover result'}`, FailureType.CutoverFailed);
          results[d.database] = outcome.report.cutover as CutoverResult;
        }),
      );
      return results;
    },
    {
      description: 'Cut over every database at once (or those named), and wait for the results. Input: {"lockSource": false} or {"lockSource": false, "databases": ["shop"]}.',
      validator: (request: MultiCutoverRequest) => {
        if (!incremental) throw new Error('this migration has no change stream (its types do not include incremental): there is nothing to cut over');
        const unknown = (request.databases ?? []).filter((name) => !databases.some((d) => d.database === name));
        if (unknown.length) throw new Error(`no such database in this migration: ${unknown.join(', ')}`);
        const chosen = cutoverCandidates(databases, request);
        if (!chosen.length) throw new Error('every database of this migration has been cut over already');
        const notReady = chosen.filter((d) => d.state !== 'streaming');
        if (notReady.length) throw new Error(`cutover is possible once every database streams changes; not yet: ${notReady.map((d) => `${d.database} (${d.state})`).join(', ')}`);
      },
    },
  );
  refresh();

  let running = 0;
  const runs: Promise<void>[] = [];
  for (const [i, entry] of entries.entries()) {
    await condition(() => running < spec.parallelism.databases);
    const d = databases[i];
    running += 1;
    let placeFreed = false;
    const freePlace = () => {
      if (!placeFreed) running -= 1;
      placeFreed = true;
    };
    const child = databaseSpec(spec, entry);
    const handle = await startChild(migrationWorkflow, {
      workflowId: d.workflowId,
      args: [{ spec: child, parentId: id, ...(searchAttributes ? { searchAttributes } : {}) }],
      // Each database's migration keeps its own phase, lag and percent current (console-attributes.ts).
      ...(searchAttributes ? { typedSearchAttributes: startingAttributes(child) } : {}),
      staticSummary: `${describeConnection(child.source)} → ${describeConnection(child.target)} (${spec.types.join(', ')})`.slice(0, 200),
    });
    handles.set(d.workflowId, handle);
    d.state = 'precheck';
    refresh();
    void condition(() => FREES_A_PLACE.has(d.state)).then(freePlace);
    runs.push(
      handle.result().then(
        (report: MigrationReport) => {
          outcomes.set(d.workflowId, { database: d.database, target: d.target, workflowId: d.workflowId, state: 'completed', report });
          d.state = 'done';
        },
        (err: unknown) => {
          const cancelled = isCancellation(err);
          d.state = cancelled ? 'cancelled' : 'failed';
          d.error = rootMessage(err);
          outcomes.set(d.workflowId, { database: d.database, target: d.target, workflowId: d.workflowId, state: cancelled ? 'cancelled' : 'failed', error: d.error });
        },
      ).finally(() => {
        freePlace();
        refresh();
      }),
    );
  }
  await Promise.all(runs);
  const report = combinedReport(databases.map((d) => outcomes.get(d.workflowId)!), startedAt);
  const failed = report.databases.filter((o) => o.state !== 'completed');
  if (failed.length) {
    throw ApplicationFailure.nonRetryable(`${failed.length} of ${databases.length} database(s) did not migrate: ${failed.map((o) => `${o.database}: ${o.error}`).join('; ')}`, FailureType.DatabasesFailed, report);
  }
  return report;
}

/** The databases a cutover request covers: those named (default all), minus any cut over on their own already. */
function cutoverCandidates(databases: DatabaseProgress[], request: MultiCutoverRequest): DatabaseProgress[] {
  return databases.filter((d) => (!request.databases || request.databases.includes(d.database)) && d.state !== 'done');
}

function combinedReport(outcomes: DatabaseOutcome[], startedAt: number): MultiDatabaseReport {
  const reports = outcomes.flatMap((o) => (o.report ? [o.report] : []));
  return {
    kind: 'databases',
    databases: outcomes,
    totalRows: reports.reduce((s, r) => s + r.totalRows, 0),
    totalBytes: reports.reduce((s, r) => s + r.totalBytes, 0),
    totalMs: Date.now() - startedAt,
  };
}

function details(databases: DatabaseProgress[]): string {
  return [
    `**${databases.length} databases**`,
    '',
    '| database | target | state | workflow |',
    '|---|---|---|---|',
    ...databases.map((d) => `| ${d.database} | ${d.target} | ${d.state}${d.error ? `: ${d.error.slice(0, 120)}` : ''} | ${d.workflowId} |`),
  ].join('\n');
}
