/**
 * Bundles the workflow code once at build time (part of `npm run build`), so a worker starts in
 * a second and without webpack in its memory. The worker falls back to bundling at start-up
 * when the file is missing.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

/**
 * The source map the worker needs inline (it maps workflow stack traces back to the sources),
 * without the sources themselves and with line-level mappings only: the SDK's default keeps
 * every source's text and every column, and its workflow thread held the decoded map in an
 * 8 MiB WebAssembly memory plus the text twice.
 */
const LEAN_SOURCE_MAP = 'inline-nosources-cheap-module-source-map';

export const WORKFLOW_BUNDLE = join(__dirname, '..', 'workflow-bundle.js');

/** The workflow bundle's code, from the workflows at `workflowsPath` (compiled or TypeScript). */
export async function bundleWorkflows(workflowsPath: string): Promise<string> {
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: quietLogger, webpackConfigHook: (config) => ({ ...config, devtool: LEAN_SOURCE_MAP }) });
  return latin1Only(code);
}

/**
 * The bundle with every character above U+00FF written as a `\uXXXX` escape, which means the
 * same in strings, template literals, regular expressions, identifiers and comments. V8 keeps a
 * script's source as one byte per character only when every character fits in one: a single
 * `→` in a comment doubled the workflow thread's copy of the whole bundle. (The source map maps
 * lines, not columns, so the longer lines do not shift it.)
 */
export function latin1Only(code: string): string {
  // An odd run of backslashes before the character escapes it (`\→` is `→`): its last backslash
  // is the escape's own, or `\\u2192` would read as a backslash and "u2192".
  return code.replace(/(\\*)([^\x00-\xff])/g, (_, slashes: string, c: string) => `${slashes.length % 2 ? slashes.slice(1) : slashes}\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

async function main(): Promise<void> {
  const code = await bundleWorkflows(require.resolve('../workflows'));
  writeFileSync(WORKFLOW_BUNDLE, code);
  console.log(`workflow bundle: ${WORKFLOW_BUNDLE} (${(code.length / 1024).toFixed(0)} kB)`);
}

const noop = () => undefined;
const quietLogger = { log: noop, trace: noop, debug: noop, info: noop, warn: console.warn, error: console.error };

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
