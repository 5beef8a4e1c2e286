/**
 * Replay safety net: every workflow history recorded in test/histories (by
 * scripts/record-histories.ts, from real migrations) is replayed against the current workflow
 * code. A change to workflows/ that would issue other commands than a recorded run did (an
 * activity added, removed or reordered, a child workflow started under another id, a timer
 * moved...) fails here with a non-determinism error: running migrations would fail the same way
 * when a worker with the new code picks them up. Guard such a change with `patched()` instead;
 * never re-record a history to make this pass (test/histories/README.md).
 *
 * The workflow code is bundled from the sources here, as `npm run build` bundles it for the
 * worker, so the test never replays against a stale dist/. No server or database is needed.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleWorkflows } from '../scripts/bundle-workflows';
import { repoRoot } from '../launch/repo-root';
import { historyFiles, loadHistories, replayHistories, type RecordedHistory, type ReplayOutcome } from './support/replay';

const files = historyFiles();

describe('recorded workflow histories replay against the current workflow code', () => {
  let histories: RecordedHistory[];
  let outcomes: ReplayOutcome[];

  beforeAll(async () => {
    histories = loadHistories();
    const code = await bundleWorkflows(join(repoRoot(), 'workflows', 'index.ts'));
    outcomes = await replayHistories({ code }, histories);
  }, 120_000);

  it('replays every history file, and there are histories to replay', () => {
    expect(files.length).toBeGreaterThan(0);
    expect(histories.map((h) => h.file)).toEqual(files);
    expect(outcomes.map((o) => o.file)).toEqual(files);
  });

  it('finds the workflow types of every recorded shape', () => {
    const types = new Set(histories.map((h) => h.workflowType));
    expect([...types].sort()).toEqual(['copyTablesWorkflow', 'migrationWorkflow', 'multiDatabaseWorkflow', 'precheckWorkflow', 'streamChangesWorkflow']);
  });

  it.each(files)('%s replays without non-determinism', (file) => {
    const outcome = outcomes.find((o) => o.file === file);
    expect(outcome, `${file} was not replayed`).toBeDefined();
    const error = outcome!.error;
    expect(error, error && `${file} does not replay (${error.name}): ${error.message}`).toBeUndefined();
  });
});
