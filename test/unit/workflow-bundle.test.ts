/**
 * The workflow bundle is loaded into every worker's workflow thread: a library pulled in by a
 * stray import costs each worker its code and source map in memory. zod once came in through
 * common/index-build.ts and added 2.7 MB to the bundle and ~29 MB to an idle worker's RSS.
 * The bundle is made here from the sources, as `npm run build` makes it, so the test never
 * reads a stale build.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SourceMapConsumer } from 'source-map'; // what the worker maps workflow stack traces with
import { bundleWorkflows, latin1Only } from '../../scripts/bundle-workflows';
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

  it('is one byte per character, with a line-level source map and no sources inside', async () => {
    // Together 18 MiB of an idle worker (154 → 136 MiB): V8 kept the bundle's source as two bytes
    // per character for one `→`, and the default map held every source and column.
    const code = await bundleWorkflows(join(repoRoot(), 'workflows', 'index.ts'));
    expect(code.match(/[^\x00-\xff]/g)).toBeNull();
    expect(code.length).toBeLessThan(1_200_000); // 2.43 M characters with the default map
    const map = JSON.parse(Buffer.from(code.slice(code.lastIndexOf('base64,') + 'base64,'.length), 'base64').toString()) as { sourcesContent?: unknown; sources: string[] };
    expect(map.sourcesContent).toBeUndefined();
    // A stack trace still names the workflow's source file and line.
    const lines = code.split('\n');
    const at = lines.findIndex((l) => l.includes('async function finish(')) + 1;
    expect(at).toBeGreaterThan(0);
    const consumer = await new SourceMapConsumer(map as never);
    const pos = consumer.originalPositionFor({ line: at, column: lines[at - 1].indexOf('async') });
    consumer.destroy();
    expect(pos.source).toMatch(/workflows\/migration\.ts$/);
    expect(pos.line).toBeGreaterThan(1);
  }, 60_000);

  it('writes characters above U+00FF as escapes that mean the same in code', () => {
    const src = 'const s = "a→b😀"; const t = `x—${1}`; const r = /→/; const µ = 2; const e = "\\→|\\\\→"; // ⟶ a comment';
    const out = latin1Only(src);
    expect(out.match(/[^\x00-\xff]/g)).toBeNull();
    expect(new Function(`${out}\nreturn [s, t, r.test('→'), µ, e];`)()).toEqual(['a→b😀', 'x—1', true, 2, '→|\\→']);
  });
});
