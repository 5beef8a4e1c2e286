/**
 * Pre-data schema: `pg_dump --section=pre-data` under the copy snapshot, piped into `psql` on
 * the target in a single transaction (schemas, extensions, types, domains, sequences, tables,
 * views, functions, ...). All or nothing, and marked done in that same transaction.
 */
import { Context } from '@temporalio/activity';
import type { Client } from 'pg';
import { closeQuietly, openClient } from '../db';
import { resolveBoth, type ActivityDeps, type Endpoints } from '../deps';
import { guarded } from '../errors';
import { owningWorkflow } from '../owning-workflow';
import { dumpFilterArgs, type SchemaOptions } from './dump-options';
import { killQuietly, startTool, type ToolRun } from './run-tool';
import { isStepDone, markerSql } from './step-marker';

export interface PreDataInput extends Endpoints, SchemaOptions {
  snapshot: string;
}

export interface PreDataResult {
  /** True when an earlier attempt had already committed it. */
  alreadyDone: boolean;
}

export function makeApplyPreData(deps: ActivityDeps) {
  return async function applyPreData(input: PreDataInput): Promise<PreDataResult> {
    const { source, target, secrets } = resolveBoth(deps, input);
    const ctx = Context.current();
    const { workflowId } = owningWorkflow();
    let tgt: Client | undefined;
    let dump: ToolRun | undefined;
    let restore: ToolRun | undefined;
    const abort = () => {
      killQuietly(dump);
      killQuietly(restore);
    };
    ctx.cancellationSignal.addEventListener('abort', abort);
    try {
      return await guarded({ doing: `pre-data schema from ${source.label} to ${target.label}`, secrets, retry: input.retry }, async () => {
        tgt = await openClient(target, 'pre-data');
        if (await isStepDone(tgt, workflowId, 'pre-data')) return { alreadyDone: true };
        await closeQuietly(tgt);

        dump = startTool(deps, 'pg_dump', ['--section=pre-data', `--snapshot=${input.snapshot}`, ...dumpFilterArgs(input)], source.libpqEnv);
        restore = startTool(
          deps,
          'psql',
          ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction', '-f', '-'],
          target.libpqEnv,
          { stdin: 'pipe', stdout: 'ignore' },
        );
        const stdin = restore.child.stdin!;
        stdin.on('error', () => undefined); // psql exiting early is reported by its exit code
        dump.child.stdout!.pipe(stdin, { end: false });
        const beat = setInterval(() => ctx.heartbeat('pre-data'), 5_000);
        try {
          // psql commits when its input ends, so the input ends only after pg_dump succeeded;
          // if pg_dump fails, psql is killed and its transaction rolls back.
          await dump.done.catch((err) => {
            killQuietly(restore);
            throw err;
          });
          stdin.end(markerSql(workflowId, 'pre-data'));
          await restore.done;
        } finally {
          clearInterval(beat);
        }
        return { alreadyDone: false };
      });
    } finally {
      ctx.cancellationSignal.removeEventListener('abort', abort);
      killQuietly(dump);
      killQuietly(restore);
      await closeQuietly(tgt);
    }
  };
}
