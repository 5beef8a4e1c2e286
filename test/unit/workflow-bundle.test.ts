/**
 * The workflow bundle is loaded into every worker's workflow thread: a library pulled in by a
 * stray import costs each worker its code and source map in memory. zod once came in through
 * common/index-build.ts and added 2.7 MB to the bundle and ~29 MB to an idle worker's RSS.
 * The bundle is made here from the sources, as `npm run build` makes it, so the test never
 * reads a stale build.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleWorkflows } from '../../scripts/bundle-workflows';
import { repoRoot } from '../../launch/repo-root';

/** Libraries the workflows must not reach: validation, database drivers, the CLI's. */
const NOT_IN_WORKFLOWS = ['zod', 'pg', 'pg-copy-streams', 'yaml', 'commander'];

describe('workflow bundle', () => {
  it('holds the workflows and Temporal, not the libraries of activities, spec or CLI', async () => {
    const code = await bundleWorkflows(join(repoRoot(), 'workflows', 'index.ts'));
    const modules = new Set([...code.matchAll(/!\*\*\* \.\/node_modules\/((?:@[^/]+\/)?[^/]+)\//g)].map((m) => m[1]));
    expect(modules.has('@temporalio/workflow')).toBe(true); // the pattern does find modules
    expect(NOT_IN_WORKFLOWS.filter((lib) => modules.has(lib))).toEqual([]);
  }, 60_000);
});
