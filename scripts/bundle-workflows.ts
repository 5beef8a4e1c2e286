/**
 * Bundles the workflow code once at build time (part of `npm run build`), so a worker starts in
 * a second and without webpack in its memory. The worker falls back to bundling at start-up
 * when the file is missing.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

export const WORKFLOW_BUNDLE = join(__dirname, '..', 'workflow-bundle.js');

/** The workflow bundle's code, from the workflows at `workflowsPath` (compiled or TypeScript). */
export async function bundleWorkflows(workflowsPath: string): Promise<string> {
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: quietLogger });
  return code;
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
