/**
 * Pre-data schema. One `pg_dump -Fc --section=pre-data --section=post-data` (the schema, with materialized view refreshes) under the copy snapshot is kept in the
 * target's bookkeeping (post-data restores from it later); its pre-data section (schemas,
 * extensions, types, domains, sequences, tables, views, functions, ...) is piped through
 * `pg_restore` into `psql` in a single transaction: all or nothing, and marked done in that
 * same transaction.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import type { Client } from 'pg';
import { closeQuietly, openClient } from '../db';
import { resolveBoth, type ActivityDeps, type Endpoints } from '../deps';
import { guarded } from '../errors';
import { owningWorkflow } from '../owning-workflow';
import { dumpFilterArgs, restoreOwnershipArgs, type SchemaOptions } from './dump-options';
import { killQuietly, startTool, type ToolRun } from './run-tool';
import { isStepDone, markerSql, saveDump } from './step-marker';

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
    let psql: ToolRun | undefined;
    const abort = () => [dump, restore, psql].forEach(killQuietly);
    ctx.cancellationSignal.addEventListener('abort', abort);
    const dir = await mkdtemp(join(deps.tmpDir, 'pgferry-schema-'));
    const beat = setInterval(() => ctx.heartbeat('pre-data'), 1_000);
    try {
      return await guarded({ doing: `pre-data schema from ${source.label} to ${target.label}`, secrets, retry: input.retry }, async () => {
        tgt = await openClient(target, 'pre-data');
        if (await isStepDone(tgt, workflowId, 'pre-data')) return { alreadyDone: true };

        const dumpFile = join(dir, 'schema.dump');
        dump = startTool(deps, 'pg_dump', ['-Fc', '--section=pre-data', '--section=post-data', `--snapshot=${input.snapshot}`, '-f', dumpFile, ...dumpFilterArgs(input)], source.libpqEnv);
        await dump.done;
        await saveDump(tgt, workflowId, await readFile(dumpFile));

        restore = startTool(deps, 'pg_restore', ['--section=pre-data', ...restoreOwnershipArgs(input), '-f', '-', dumpFile], {});
        psql = startTool(deps, 'psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction', '-f', '-'], target.libpqEnv, { stdin: 'pipe', stdout: 'ignore' });
        const stdin = psql.child.stdin!;
        stdin.on('error', () => undefined); // psql exiting early is reported by its exit code
        restore.child.stdout!.pipe(stdin, { end: false });
        // psql commits when its input ends, so the input ends only after pg_restore succeeded;
        // if pg_restore fails, psql is killed and its transaction rolls back.
        await restore.done.catch((err) => {
          killQuietly(psql);
          throw err;
        });
        stdin.end(markerSql(workflowId, 'pre-data'));
        await psql.done;
        return { alreadyDone: false };
      });
    } finally {
      clearInterval(beat);
      ctx.cancellationSignal.removeEventListener('abort', abort);
      abort();
      await closeQuietly(tgt);
      await rm(dir, { recursive: true, force: true });
    }
  };
}
