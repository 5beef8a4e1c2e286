/**
 * The workflow bundle (built by `npm run build`, which `npm test` runs first) is loaded into
 * every worker's workflow thread: a library pulled in by a stray import costs each worker its
 * code and source map in memory. zod once came in through common/index-build.ts and added
 * 2.7 MB to the bundle and ~29 MB to an idle worker's RSS.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/repo-root';

const WORKFLOW_BUNDLE = join(repoRoot(), 'dist', 'workflow-bundle.js');

/** Libraries the workflows must not reach: validation, database drivers, the CLI's. */
const NOT_IN_WORKFLOWS = ['zod', 'pg', 'pg-copy-streams', 'yaml', 'commander'];

describe('workflow bundle', () => {
  it('holds the workflows and Temporal, not the libraries of activities, spec or CLI', () => {
    expect(existsSync(WORKFLOW_BUNDLE), `${WORKFLOW_BUNDLE} is missing: run npm run build`).toBe(true);
    const code = readFileSync(WORKFLOW_BUNDLE, 'utf8');
    const modules = new Set([...code.matchAll(/!\*\*\* \.\/node_modules\/((?:@[^/]+\/)?[^/]+)\//g)].map((m) => m[1]));
    expect(modules.has('@temporalio/workflow')).toBe(true); // the pattern does find modules
    expect(NOT_IN_WORKFLOWS.filter((lib) => modules.has(lib))).toEqual([]);
  });
});
