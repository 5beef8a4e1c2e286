/**
 * The schema dump that pre-data restores and post-data later takes its section from:
 * `pg_dump -Fc --section=pre-data --section=post-data` under the copy snapshot.
 *
 * A full migration exports its snapshot while the precheck runs, and taking the dump only reads
 * the source, so `dumpSchemaEarly` takes it meanwhile (pg_dump's catalog reads take a second or
 * more on thousands of tables). The dump stays in the worker's memory, under the workflow id
 * and the dump's arguments, for ten minutes; pre-data takes it when it runs on the same worker
 * with the same arguments (the precheck may exclude conflicting tables) and dumps again
 * otherwise. Nothing is left on disk, whatever happens to the migration.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ResolvedConnection } from '../credentials';
import { resolveConnection } from '../credentials';
import type { ActivityDeps, Endpoints } from '../deps';
import { guarded } from '../errors';
import { owningWorkflow } from '../owning-workflow';
import { dumpFilterArgs, type SchemaOptions } from './dump-options';
import { killQuietly, startTool, type ToolRun } from './run-tool';

/**
 * pg_dump's arguments but the output file. UTF8 whatever the source's encoding: the script goes
 * through a UTF8 connection. `--schema-only` rather than the pre- and post-data sections: those
 * read every sequence's value too, a lock each (matview-refresh.ts).
 */
export function schemaDumpArgs(snapshot: string, options: Pick<SchemaOptions, 'excludeTables'>): string[] {
  return ['-Fc', '--encoding=UTF8', '--schema-only', `--snapshot=${snapshot}`, ...dumpFilterArgs(options)];
}

/** Runs pg_dump into `file`; `onStart` gets the run so that a cancelled activity can kill it. */
export async function runSchemaDump(deps: ActivityDeps, source: ResolvedConnection, args: string[], file: string, onStart: (run: ToolRun) => void = () => undefined): Promise<void> {
  const run = startTool(deps, 'pg_dump', [...args, '-f', file], source.libpqEnv);
  onStart(run);
  await run.done;
}

const dumpKey = (workflowId: string, args: string[]) => JSON.stringify([workflowId, ...args]);

/** Dumps taken early, by workflow and arguments, each kept a limited time and taken once. */
export class EarlyDumps {
  private readonly dumps = new Map<string, { dump: Buffer; expiry: NodeJS.Timeout }>();
  private bytes = 0;

  constructor(
    private readonly keepMs = 10 * 60_000,
    /** Beyond this, a dump is not kept (pre-data then takes its own): memory stays bounded. */
    private readonly maxBytes = 64 * 1024 * 1024,
  ) {}

  put(workflowId: string, args: string[], dump: Buffer): boolean {
    const key = dumpKey(workflowId, args);
    this.take(workflowId, args); // a retried early dump replaces its first copy
    if (this.bytes + dump.length > this.maxBytes) return false;
    const expiry = setTimeout(() => this.take(workflowId, args), this.keepMs);
    expiry.unref();
    this.dumps.set(key, { dump, expiry });
    this.bytes += dump.length;
    return true;
  }

  take(workflowId: string, args: string[]): Buffer | undefined {
    const key = dumpKey(workflowId, args);
    const kept = this.dumps.get(key);
    if (!kept) return undefined;
    clearTimeout(kept.expiry);
    this.dumps.delete(key);
    this.bytes -= kept.dump.length;
    return kept.dump;
  }
}

export interface EarlyDumpInput extends Pick<Endpoints, 'source' | 'retry'> {
  snapshot: string;
}

export function makeDumpSchemaEarly(deps: ActivityDeps, early: EarlyDumps) {
  return async function dumpSchemaEarly(input: EarlyDumpInput): Promise<{ bytes: number; kept: boolean }> {
    const source = resolveConnection(input.source, deps.env);
    const { workflowId } = owningWorkflow();
    const dir = await mkdtemp(join(deps.tmpDir, 'pgferry-early-dump-'));
    let run: ToolRun | undefined;
    try {
      return await guarded({ doing: `schema dump of ${source.label}`, secrets: source.secrets, retry: input.retry }, async () => {
        // Without exclusions: the precheck has not said yet which tables conflict.
        const args = schemaDumpArgs(input.snapshot, { excludeTables: [] });
        const file = join(dir, 'schema.dump');
        await runSchemaDump(deps, source, args, file, (r) => (run = r));
        const dump = await readFile(file);
        return { bytes: dump.length, kept: early.put(workflowId, args, dump) };
      });
    } finally {
      killQuietly(run);
      await rm(dir, { recursive: true, force: true });
    }
  };
}
