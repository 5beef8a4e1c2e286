/**
 * Post-data: `pg_dump --section=post-data` (indexes, primary/unique/foreign keys, triggers,
 * rules, materialized view refreshes), restored with `pg_restore -j N` so index builds run in
 * parallel. pg_restore cannot do that in one transaction, so idempotency comes from the target
 * itself: a retried attempt skips the objects that already exist there.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import type { Client } from 'pg';
import { closeQuietly, openClient } from '../db';
import { resolveBoth, type ActivityDeps, type Endpoints } from '../deps';
import { guarded } from '../errors';
import { dumpFilterArgs, type SchemaOptions } from './dump-options';
import { alreadyRestored, parseToc } from './existing-objects';
import { killQuietly, startTool, type ToolRun } from './run-tool';

export interface PostDataInput extends Endpoints, SchemaOptions {
  jobs: number;
}

export interface PostDataResult {
  objects: number;
  skippedAsDone: number;
}

export function makeApplyPostData(deps: ActivityDeps) {
  return async function applyPostData(input: PostDataInput): Promise<PostDataResult> {
    const { source, target, secrets } = resolveBoth(deps, input);
    const ctx = Context.current();
    let run: ToolRun | undefined;
    let src: Client | undefined;
    let tgt: Client | undefined;
    const abort = () => killQuietly(run);
    ctx.cancellationSignal.addEventListener('abort', abort);
    const dir = await mkdtemp(join(deps.tmpDir, 'pgferry-post-data-'));
    const beat = setInterval(() => ctx.heartbeat('post-data'), 5_000);
    try {
      return await guarded({ doing: `post-data schema from ${source.label} to ${target.label}`, secrets, retry: input.retry }, async () => {
        const dumpFile = join(dir, 'post-data.dump');
        run = startTool(deps, 'pg_dump', ['--section=post-data', '-Fc', '-f', dumpFile, ...dumpFilterArgs(input)], source.libpqEnv);
        await run.done;

        let listing = '';
        run = startTool(deps, 'pg_restore', ['-l', dumpFile], {});
        run.child.stdout!.on('data', (chunk: Buffer) => (listing += chunk.toString('utf8')));
        await run.done;
        const entries = parseToc(listing);

        let skip = new Set<number>();
        if (ctx.info.attempt > 1) {
          src = await openClient(source, 'post-data');
          tgt = await openClient(target, 'post-data');
          skip = await alreadyRestored(entries, src, tgt);
        }
        const listFile = join(dir, 'post-data.list');
        await writeFile(listFile, entries.filter((e) => !skip.has(e.dumpId)).map((e) => e.line).join('\n') + '\n');

        const ownership = input.keepOwnership ? [] : ['--no-owner', '--no-privileges'];
        run = startTool(
          deps,
          'pg_restore',
          ['--exit-on-error', `--jobs=${Math.max(1, input.jobs)}`, '-L', listFile, ...ownership, `--dbname=${conninfoDbname(input.target.database)}`, dumpFile],
          target.libpqEnv,
        );
        await run.done;
        return { objects: entries.length, skippedAsDone: skip.size };
      });
    } finally {
      clearInterval(beat);
      ctx.cancellationSignal.removeEventListener('abort', abort);
      killQuietly(run);
      await closeQuietly(src);
      await closeQuietly(tgt);
      await rm(dir, { recursive: true, force: true });
    }
  };
}

/** A conninfo string naming only the database, so odd names are never parsed as a URL. */
function conninfoDbname(database: string): string {
  return `dbname='${database.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
