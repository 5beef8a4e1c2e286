/**
 * Pre-data schema. One `pg_dump -Fc --section=pre-data --section=post-data` (the schema, with
 * materialized view refreshes) under the copy snapshot (schema-dump.ts: usually taken while the
 * precheck ran) is kept in the target's bookkeeping
 * (post-data restores from it later); its pre-data section (schemas, extensions, types,
 * domains, sequences, tables, views, functions, ...) is read through `pg_restore` and run on
 * the target in a single transaction, in batches of statements (run-sql-script.ts): all or
 * nothing, and marked done in that same transaction. A schema whose locks do not fit in one
 * transaction (thousands of tables on a server with the default lock table) commits in several,
 * each with its progress, and a retry goes on from the saved dump (transaction-split.ts).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from 'pg';
import { closeInBackground, closeQuietly, openClient } from '../db';
import { beginUnderSnapshot } from '../snapshot-transaction';
import { resolveBoth, type ActivityDeps, type Endpoints } from '../deps';
import { guarded } from '../errors';
import { activityLifetime } from '../activity-lifetime';
import { owningWorkflow } from '../owning-workflow';
import { restoreOwnershipArgs, type SchemaOptions } from './dump-options';
import { runSchemaDump, schemaDumpArgs, type EarlyDumps } from './schema-dump';
import { killQuietly, startTool, type ToolRun } from './run-tool';
import { isStepDone, loadDumpInto, loadProgress, markerSql, progressSql, saveDump, saveListing } from './step-marker';
import { lockBudget, type TransactionSplit } from './transaction-split';
import { runSqlScript } from './run-sql-script';
import type { ObjectsSpec } from '../../common/objects-spec';
import { selectsEverything } from '../../common/selection';
import { qualified, quoteIdent } from '../db';
import type { ResolvedConnection } from '../credentials';
import { readListing, type TocEntry } from './existing-objects';
import { readSelection } from '../objects/read-selection';
import { planSchemaFilter, type SchemaFilter } from '../objects/schema-filter';
import { withLargeObjects } from '../large-objects/dump-entries';

export interface PreDataInput extends Endpoints, SchemaOptions {
  snapshot: string;
  /** The spec's objects section: schemas, tables and columns to leave out. */
  objects?: ObjectsSpec;
  conflicts?: 'error' | 'ignore';
  /**
   * Leave out the dump's large objects (BLOB entries and their comments and grants): the copy
   * creates them with their metadata, many transactions of a hundred (in one transaction,
   * thousands of them exhaust the lock table), or they are not migrated. Absent in histories
   * from before large objects were copied: restored as pg_dump wrote them.
   */
  skipLargeObjects?: boolean;
}

export interface PreDataResult {
  /** True when an earlier attempt had already committed it. */
  alreadyDone: boolean;
  /** Objects left out because they depend on something not migrated (for the report). */
  leftOut?: string[];
  /** Objects in the schemas of selected tables that were not selected (table-level selection). */
  notSelected?: string[];
  /** The schema dump was the one taken while the precheck ran (schema-dump.ts). */
  reusedEarlyDump?: boolean;
}

export function makeApplyPreData(deps: ActivityDeps, early: EarlyDumps) {
  return async function applyPreData(input: PreDataInput): Promise<PreDataResult> {
    const { source, target, secrets } = resolveBoth(deps, input);
    const { workflowId } = owningWorkflow();
    let tgt: Client | undefined;
    let dump: ToolRun | undefined;
    let restore: ToolRun | undefined;
    const abort = () => [dump, restore].forEach(killQuietly);
    const dir = await mkdtemp(join(deps.tmpDir, 'pgferry-schema-'));
    const endLifetime = activityLifetime({ heartbeatMs: 1_000, details: () => 'pre-data', onCancel: abort });
    try {
      return await guarded({ doing: `pre-data schema from ${source.label} to ${target.label}`, secrets, retry: input.retry }, async () => {
        tgt = await openClient(target, 'pre-data');
        if (await isStepDone(tgt, workflowId, 'pre-data')) return { alreadyDone: true };

        const dumpFile = join(dir, 'schema.dump');
        // An attempt that committed part of a split script left its dump: the rest comes from it.
        const committed = await loadProgress(tgt, workflowId, 'pre-data');
        const args = schemaDumpArgs(input.snapshot, input);
        // Taken while the precheck ran, when it was taken on this worker with these arguments.
        const reusedEarlyDump = !committed && (await writeEarlyDump(early.take(workflowId, args), dumpFile));
        const reloaded = committed > 0 && (await loadDumpInto(tgt, workflowId, dumpFile)) !== undefined;
        if (!reusedEarlyDump && !reloaded) await runSchemaDump(deps, source, args, dumpFile, (run) => (dump = run));
        // Listed beside the restore, and saved with it for post-data (step-marker.ts).
        const listing = readListing(deps, dumpFile);
        listing.catch(() => undefined); // awaited below
        let filter: SchemaFilter | undefined;
        let skip: number[] | undefined; // dump ids left out; undefined: restore everything
        const listFile = join(dir, 'pre-data.list');
        const selecting = input.objects !== undefined && !selectsEverything(input.objects);
        if (selecting || input.skipLargeObjects) {
          const entries = (await listing).all;
          if (selecting) filter = await selectionFilter(source, input, entries);
          // No selection reaches large objects: they are all kept or all left out.
          skip = input.skipLargeObjects === undefined ? filter!.skip : withLargeObjects(filter?.skip ?? [], entries, !input.skipLargeObjects);
          const left = new Set(skip);
          await writeFile(listFile, entries.filter((e) => !left.has(e.dumpId)).map((e) => e.line).join('\n') + '\n');
        }
        if (!committed) {
          const { rows: schemas } = await tgt.query<{ nspname: string }>('SELECT nspname FROM pg_catalog.pg_namespace');
          await saveDump(tgt, workflowId, dumpFile, skip, schemas.map((r) => r.nspname));
        }

        // The script runs in one transaction, marked done inside it; it commits only after
        // pg_restore ended well (a failed pg_restore may have written half a script).
        restore = startTool(deps, 'pg_restore', ['--section=pre-data', ...(skip ? ['-L', listFile] : []), ...restoreOwnershipArgs(input), '-f', '-', dumpFile], {});
        const restored = restore.done;
        restored.catch(() => undefined); // awaited below, unless the script fails first
        const split = await transactionSplit(tgt, workflowId, committed);
        await tgt.query('BEGIN');
        const ran = await runSqlScript(tgt, restore.stdout, undefined, split).catch((err) => {
          killQuietly(restore);
          throw err;
        });
        await restored;
        // pg_restore's script always sets up its session first: none means the output was lost,
        // and marking the step done would leave the target without its tables.
        if (ran === 0 && !committed) throw new Error('pg_restore wrote no pre-data script; nothing was applied');
        await tgt.query(dropColumnsSql(filter) + markerSql(workflowId, 'pre-data'));
        await saveListing(tgt, workflowId, await listing);
        await tgt.query('COMMIT');
        return { alreadyDone: false, leftOut: filter?.leftOutByDependency, notSelected: filter?.notSelected, reusedEarlyDump };
      });
    } finally {
      endLifetime();
      abort();
      closeInBackground(tgt);
      await rm(dir, { recursive: true, force: true });
    }
  };
}

/**
 * Writes the early dump, if there is one, to the file the restore reads. The dump is dropped
 * from memory when this returns: the rest of the step (saving it, restoring it) streams the
 * file (10,000 tables: a ~15 MB dump).
 */
async function writeEarlyDump(dump: Buffer | undefined, file: string): Promise<boolean> {
  if (!dump) return false;
  await writeFile(file, dump);
  return true;
}

/** Commits every so many statements when the target's lock table asks for it. */
async function transactionSplit(tgt: Client, workflowId: string, alreadyCommitted: number): Promise<TransactionSplit> {
  const { rows } = await tgt.query<{ locks: number; connections: number; prepared: number }>(
    `SELECT current_setting('max_locks_per_transaction')::int AS locks, current_setting('max_connections')::int AS connections,
            current_setting('max_prepared_transactions')::int AS prepared`,
  );
  const { locks, connections, prepared } = rows[0];
  return { lockBudget: lockBudget(locks, connections, prepared), alreadyCommitted, progressSql: (n) => progressSql(workflowId, 'pre-data', n) };
}

/** Applies the selection to the dump's entries, reading the source catalog under the snapshot. */
async function selectionFilter(source: ResolvedConnection, input: PreDataInput, entries: TocEntry[]): Promise<SchemaFilter> {
  const src = await openClient(source, 'pre-data');
  try {
    await beginUnderSnapshot(src, input.snapshot);
    const selection = await readSelection(src, input.objects!, input.conflicts ?? 'error');
    if (selection.problems.length) throw new Error(`objects: ${selection.problems.join('; ')}`);
    return await planSchemaFilter(src, selection, entries, !input.objects!.include);
  } finally {
    await closeQuietly(src);
  }
}

/** Excluded columns go right after the tables are created, before any row or index exists. */
function dropColumnsSql(filter: SchemaFilter | undefined): string {
  if (!filter) return '';
  return filter.dropColumns.map((t) => `ALTER TABLE ${qualified(t)} ${t.columns.map((c) => `DROP COLUMN ${quoteIdent(c)}`).join(', ')};\n`).join('');
}
