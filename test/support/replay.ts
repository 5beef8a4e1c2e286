/**
 * Recorded workflow histories (test/histories) and their replay against workflow code: the
 * replay test and the recorder (scripts/record-histories.ts) both use this.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { temporal } from '@temporalio/proto';
import { historyFromJSON } from './history-json';
import { DefaultLogger, Runtime, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { repoRoot } from '../../launch/repo-root';

export const HISTORIES_DIR = join(repoRoot(), 'test', 'histories');

type History = temporal.api.history.v1.IHistory;

export interface RecordedHistory {
  file: string;
  workflowId: string;
  workflowType: string;
  events: number;
  history: History;
}

/**
 * A history and the id of its workflow, which the history's first event carries (the workflow
 * code uses its id: child workflow ids and replication names are made from it, so a replay
 * under another id would not issue the same commands).
 */
export function parseHistory(file: string, json: string): RecordedHistory {
  const history = historyFromJSON(JSON.parse(json));
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  if (!started) throw new Error(`${file}: the first event is not WorkflowExecutionStarted`);
  if (!started.workflowId) throw new Error(`${file}: the started event carries no workflow id`);
  return { file, workflowId: started.workflowId, workflowType: started.workflowType?.name ?? '?', events: history.events!.length, history };
}

/** Every `*.json` file in `dir`, sorted by name. */
export function historyFiles(dir = HISTORIES_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
}

export function loadHistories(dir = HISTORIES_DIR): RecordedHistory[] {
  return historyFiles(dir).map((file) => parseHistory(file, readFileSync(join(dir, file), 'utf8')));
}

export interface ReplayOutcome {
  file: string;
  workflowId: string;
  /** The replay's error: a DeterminismViolationError (the code issues other commands) or a ReplayError. */
  error?: Error;
}

/** Replays each history, one after the other, in one replay worker running `bundle`. */
export async function replayHistories(bundle: WorkflowBundleOption, histories: RecordedHistory[]): Promise<ReplayOutcome[]> {
  quietRuntime();
  const outcomes: ReplayOutcome[] = [];
  const results = Worker.runReplayHistories(
    { workflowBundle: bundle, replayName: 'pgferry-recorded-histories' },
    histories.map((h) => ({ workflowId: h.workflowId, history: h.history })),
  );
  // Results come one per history, in order (the replay worker takes them one at a time).
  for await (const result of results) {
    const h = histories[outcomes.length];
    outcomes.push({ file: h.file, workflowId: result.workflowId, error: result.error });
  }
  return outcomes;
}

/** The replay worker's state changes logged at INFO say nothing here: warnings and errors only. */
function quietRuntime(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // a Runtime exists already (installed by the process, or by an earlier replay): keep it
  }
}
