/** ANALYZE on the target, in parallel, so the planner has statistics from the first query. */
import { Context } from '@temporalio/activity';
import { resolveConnection } from '../credentials';
import type { ActivityDeps, Endpoints } from '../deps';
import { guarded } from '../errors';
import { killQuietly, startTool, type ToolRun } from './run-tool';

export function makeAnalyzeTarget(deps: ActivityDeps) {
  return async function analyzeTarget(input: Pick<Endpoints, 'target' | 'retry'> & { jobs: number }): Promise<void> {
    const target = resolveConnection(input.target, deps.env);
    const ctx = Context.current();
    let run: ToolRun | undefined;
    const abort = () => killQuietly(run);
    ctx.cancellationSignal.addEventListener('abort', abort);
    const beat = setInterval(() => ctx.heartbeat('analyze'), 5_000);
    try {
      await guarded({ doing: `analyze target ${target.label}`, secrets: target.secrets, retry: input.retry }, async () => {
        run = startTool(deps, 'vacuumdb', ['--analyze-only', '--quiet', `--jobs=${Math.max(1, input.jobs)}`], target.libpqEnv);
        await run.done;
      });
    } finally {
      clearInterval(beat);
      ctx.cancellationSignal.removeEventListener('abort', abort);
      killQuietly(run);
    }
  };
}
