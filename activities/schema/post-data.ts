/**
 * Post-data: the post-data section of the schema dump taken in pre-data (foreign keys,
 * triggers, rules, materialized view refreshes, and indexes on partitioned tables), restored
 * with `pg_restore -j N`. Indexes and keys of copied tables were already built by the copy
 * (activities/copy/table-indexes.ts), most foreign keys and triggers added by it
 * (early-foreign-keys.ts, early-triggers.ts), and pg_restore cannot work in one transaction,
 * so the objects that already exist on the target are left out: that also makes a retry safe.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from 'pg';
import { closeInBackground, openClient, startupOptions } from '../db';
import { indexBuildSettings, type IndexBuild } from '../../common/index-build';
import { resolveBoth, type ActivityDeps, type Endpoints } from '../deps';
import { guarded } from '../errors';
import { activityLifetime } from '../activity-lifetime';
import { dumpFilterArgs, isPgferryEntry, restoreOwnershipArgs, type SchemaOptions } from './dump-options';
import { loadDumpInto, loadListing, type DumpListing } from './step-marker';
import { owningWorkflow } from '../owning-workflow';
import { alreadyRestored, readListing } from './existing-objects';
import { refreshMaterializedViews } from './matview-refresh';
import { killQuietly, startTool, type ToolRun } from './run-tool';
import { settleAll } from '../settle-all';

export interface PostDataInput extends Endpoints, SchemaOptions {
  jobs: number;
  /** For what post-data builds (indexes of partitioned tables); absent in histories from before. */
  indexBuild?: IndexBuild;
}

export interface PostDataResult {
  objects: number;
  skippedAsDone: number;
}

export function makeApplyPostData(deps: ActivityDeps) {
  return async function applyPostData(input: PostDataInput): Promise<PostDataResult> {
    const { source, target, secrets } = resolveBoth(deps, input);
    let run: ToolRun | undefined;
    let src: Client | undefined;
    let tgt: Client | undefined;
    const dir = await mkdtemp(join(deps.tmpDir, 'pgferry-post-data-'));
    const endLifetime = activityLifetime({ heartbeatMs: 1_000, details: () => 'post-data', onCancel: () => killQuietly(run) });
    try {
      return await guarded({ doing: `post-data schema from ${source.label} to ${target.label}`, secrets, retry: input.retry }, async () => {
        tgt = await openClient(target, 'post-data');
        const workflowId = owningWorkflow().workflowId;
        const dumpFile = join(dir, 'schema.dump');
        // Pre-data saved the dump's listing: the dump itself is read back only when something is left to restore.
        const [found, sourceClient] = await settleAll([
          readSavedListing(deps, tgt, workflowId, dumpFile, { filter: input, sourceEnv: source.libpqEnv }, (r) => (run = r)),
          (async () => (src = await openClient(source, 'post-data')))(),
        ] as const);
        const { listing, leftOut } = found;
        // not selected (objects), or pgferry's own (publications, DDL capture)
        const all = listing.all.filter((e) => !leftOut.has(e.dumpId) && !isPgferryEntry(e));
        const postData = new Set(listing.postData);
        const entries = all.filter((e) => postData.has(e.dumpId));
        const skip = await alreadyRestored(entries, sourceClient, tgt);
        const left = entries.filter((e) => !skip.has(e.dumpId));
        // Often nothing is left: the copies built every index and key and added the foreign keys and triggers.
        if (!left.length) {
          await refreshMaterializedViews(all, sourceClient, tgt);
          return { objects: entries.length, skippedAsDone: skip.size };
        }
        if (!found.dumpLoaded && !(await loadDumpInto(tgt, workflowId, dumpFile))) throw new Error('the schema dump saved by pre-data is gone from the target bookkeeping');
        const listFile = join(dir, 'post-data.list');
        await writeFile(listFile, left.map((e) => e.line).join('\n') + '\n');

        run = startTool(
          deps,
          'pg_restore',
          ['--exit-on-error', '--section=post-data', `--jobs=${restoreJobs(input.jobs, left.length)}`, '-L', listFile, ...restoreOwnershipArgs(input), `--dbname=${conninfoDbname(input.target.database)}`, dumpFile],
          // Foreign key checks over big tables would each JIT-compile their query first: a few
          // hundred milliseconds of CPU that a one-off scan does not win back.
          { ...target.libpqEnv, PGOPTIONS: startupOptions({ jit: 'off', ...indexBuildSettings(input.indexBuild) }) },
        );
        await run.done;
        await refreshMaterializedViews(all, sourceClient, tgt);
        return { objects: entries.length, skippedAsDone: skip.size };
      });
    } finally {
      endLifetime();
      killQuietly(run);
      closeInBackground(src);
      closeInBackground(tgt);
      await rm(dir, { recursive: true, force: true });
    }
  };
}

/**
 * The dump's listing and the dump ids the selection left out: as pre-data saved them, or
 * (no pre-data step in this migration, or a pre-data from before listings were saved) read
 * from the dump, loaded back or taken now.
 */
async function readSavedListing(
  deps: ActivityDeps,
  tgt: Client,
  workflowId: string,
  dumpFile: string,
  dumpNow: { filter: PostDataInput; sourceEnv: Record<string, string> },
  onTool: (run: ToolRun) => void,
): Promise<{ listing: DumpListing; leftOut: Set<number>; dumpLoaded: boolean }> {
  const saved = await loadListing(tgt, workflowId);
  if (saved) return { listing: saved, leftOut: new Set(saved.skip), dumpLoaded: false };
  const dumped = await loadDumpInto(tgt, workflowId, dumpFile);
  if (!dumped) {
    // No pre-data step in this migration: dump the post-data section now.
    const run = startTool(deps, 'pg_dump', ['--section=post-data', '-Fc', '-f', dumpFile, ...dumpFilterArgs(dumpNow.filter)], dumpNow.sourceEnv);
    onTool(run);
    await run.done;
  }
  return { listing: await readListing(deps, dumpFile), leftOut: new Set(dumped?.skip ?? []), dumpLoaded: true };
}

/**
 * pg_restore's jobs for `entries` objects: each job is a process and a session of its own, so
 * no more than there are objects (after the copy, often one trigger or two is all that is left:
 * with 4 jobs that took 0.7-0.8 s at the end of the benchmark's migration).
 */
export function restoreJobs(jobs: number, entries: number): number {
  return Math.max(1, Math.min(jobs, entries));
}

/** A conninfo string naming only the database, so odd names are never parsed as a URL. */
function conninfoDbname(database: string): string {
  return `dbname='${database.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
