/**
 * `pgferry plan`: reads the source (and whether the target has the schemas and tables) and says
 * what a migration with this spec would create and copy, with the same selection
 * (read-selection.ts), the same table list (USER_TABLES_SQL) and the same splitting
 * (common/table-split.ts, list-tables.ts) as the migration itself. Writes nothing.
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Client } from 'pg';
import type { MigrationSpec } from '../../common/spec';
import { tableKey } from '../../common/plan';
import { selectsEverything, type TableSelection } from '../../common/selection';
import { chunkCount, splitThresholdBytes } from '../../common/table-split';
import { largeObjectsWanted } from '../../common/large-objects';
import { busyLanes, estimateCopy, PLAN_TABLE_LIMIT, type MigrationPlanPreview, type PlannedSchema, type PlannedTable } from '../../common/migration-plan';
import { closeQuietly, openClient, qualified } from '../db';
import { resolveBoth, type ActivityDeps } from '../deps';
import { guarded } from '../errors';
import { existingTables, planSplit, tableSizes, USER_TABLES_SQL } from '../copy/list-tables';
import { readSelection, USER_SCHEMAS_SQL } from '../objects/read-selection';
import { CopyOutRelay } from '../copy/copy-relay';
import { objectCounts } from './object-counts';
import { readSizes } from '../large-objects/large-object-sql';

export type PlanInput = Pick<MigrationSpec, 'source' | 'target' | 'types' | 'objects' | 'conflicts' | 'copy' | 'parallelism' | 'throttle' | 'retry'> & {
  /** pgferry plan --mb-per-second: the whole migration's copy rate, instead of measuring one. */
  mbPerSecond?: number;
};

/** How much of the biggest table the rate measurement reads (one COPY stream, text format). */
const SAMPLE_BYTES = 32 * 1024 * 1024;
const SAMPLE_TIMEOUT_MS = 15_000;

export function makePlanMigration(deps: ActivityDeps) {
  return async function planMigration(input: PlanInput): Promise<MigrationPlanPreview> {
    const { source, target, secrets } = resolveBoth(deps, { source: input.source, target: input.target, retry: input.retry });
    let src: Client | undefined;
    let tgt: Client | undefined;
    try {
      return await guarded({ doing: `plan the migration of source ${source.label}`, secrets, retry: input.retry }, async () => {
        src = await openClient(source, 'plan');
        // One view of the catalog, as the migration's snapshot gives it.
        await src.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const plan = await readPlan(src, input);
        await src.query('COMMIT');
        tgt = await openClient(target, 'plan').catch(() => undefined); // a target database to be created has nothing yet
        await markExisting(tgt, plan);
        if (plan.estimate === undefined && input.types.includes('full')) await estimate(src, input, plan, source.label);
        return plan;
      });
    } finally {
      await closeQuietly(src);
      await closeQuietly(tgt);
    }
  };
}

async function readPlan(src: Client, input: PlanInput): Promise<MigrationPlanPreview> {
  const splitLargerThan = splitThresholdBytes(input.copy);
  const { rows: listed } = await src.query<{ oid: number; schema: string; name: string }>(USER_TABLES_SQL);
  const sizes = await tableSizes(src, listed.map((t) => t.oid));
  const rows = listed.map((t) => ({ schema: t.schema, name: t.name, bytes: sizes.get(Number(t.oid)) ?? 0 }));
  const selection = input.objects && !selectsEverything(input.objects) ? await readSelection(src, input.objects, input.conflicts) : undefined;
  if (selection?.problems.length) throw new Error(`the objects section selects nothing valid: ${selection.problems.join('; ')} (pgferry precheck names each problem)`);
  const byKey = selection && new Map(selection.tables.map((t) => [tableKey(t), t]));
  const estimates = await rowEstimates(src);
  const tables: PlannedTable[] = [];
  for (const r of rows) {
    const choice = byKey?.get(tableKey(r));
    if (byKey && !choice) continue;
    const bytes = Number(r.bytes);
    const table: PlannedTable = { schema: r.schema, name: r.name, target: choice?.target ?? { schema: r.schema, name: r.name }, bytes, ...mapping(choice) };
    const rowsEstimate = estimates.get(tableKey(r));
    if (rowsEstimate !== undefined) table.rowEstimate = rowsEstimate;
    const chunks = chunkCount(bytes, splitLargerThan);
    const split = chunks > 1 ? await planSplit(src, r, chunks) : undefined;
    if (split) Object.assign(table, { chunks: split.bounds.length + 1, splitBy: split.by, ...(split.column ? { splitColumn: split.column } : {}) });
    tables.push(table);
  }
  tables.sort((a, b) => b.bytes - a.bytes);
  const withSchema = input.types.includes('schema');
  const wholeSchemas = selection ? selection.wholeSchemas : (await src.query<{ name: string }>(USER_SCHEMAS_SQL)).rows.map((r) => r.name);
  const schemas = withSchema ? await plannedSchemas(src, tables, wholeSchemas, selection?.schemaRenames ?? {}) : [];
  const split = tables.filter((t) => t.chunks);
  const chunks = split.reduce((s, t) => s + (t.chunks ?? 0), 0);
  const plan: MigrationPlanPreview = {
    types: input.types,
    splitLargerThan,
    schemas,
    tables: tables.slice(0, PLAN_TABLE_LIMIT),
    omittedTables: Math.max(0, tables.length - PLAN_TABLE_LIMIT),
    totals: {
      tables: tables.length,
      bytes: tables.reduce((s, t) => s + t.bytes, 0),
      rows: tables.reduce((s, t) => s + (t.rowEstimate ?? 0), 0),
      splitTables: split.length,
      chunks,
      copyUnits: chunks + tables.length - split.length,
    },
    notes: [],
  };
  if (tables.some((t) => t.rowEstimate === undefined)) plan.notes.push('Tables never analyzed have no row estimate (ANALYZE them on the source for one).');
  if (largeObjectsWanted(input)) plan.largeObjects = await largeObjectTotals(src);
  if (!input.types.includes('full')) plan.notes.push('The types do not include full: no row is copied.');
  return plan;
}

/** Count and bytes of the source's large objects (their sizes read as the copy reads them: pg_largeobject is for superusers only). */
async function largeObjectTotals(src: Client): Promise<{ count: number; bytes: number } | undefined> {
  let count = 0;
  let bytes = 0;
  await readSizes(src, 0, 4294967295, (page) => {
    count += page.length;
    for (const o of page) bytes += o.size;
  });
  return count ? { count, bytes } : undefined;
}

/** reltuples of every analyzed table: -1 (PostgreSQL 14+), or 0 over no pages, means never analyzed. */
async function rowEstimates(src: Client): Promise<Map<string, number>> {
  const { rows } = await src.query<{ schema: string; name: string; n: string }>(
    `SELECT n.nspname AS schema, c.relname AS name, c.reltuples::int8 AS n FROM pg_catalog.pg_class c
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_catalog.pg_stat_all_tables s ON s.relid = c.oid
      WHERE c.relkind = 'r' AND c.reltuples >= 0
        AND (c.reltuples > 0 OR c.relpages > 0 OR s.last_analyze IS NOT NULL OR s.last_autoanalyze IS NOT NULL)`,
  );
  return new Map(rows.map((r) => [tableKey(r), Number(r.n)]));
}

function mapping(choice: TableSelection | undefined): Partial<PlannedTable> {
  if (!choice) return {};
  return { ...(choice.columns ? { columns: choice.columns } : {}), ...(choice.where ? { where: choice.where } : {}) };
}

/** The schemas the migration writes into, by target name, with what it creates there. */
async function plannedSchemas(src: Client, tables: PlannedTable[], wholeSchemas: string[], renames: Record<string, string>): Promise<PlannedSchema[]> {
  const bySchema = new Map<string, PlannedSchema>();
  const entry = (schema: string, whole: boolean) => {
    let s = bySchema.get(schema);
    if (!s) bySchema.set(schema, (s = { source: schema, target: renames[schema] ?? schema, whole, exists: false, tables: 0, counts: {} }));
    return s;
  };
  for (const schema of wholeSchemas) entry(schema, true);
  for (const t of tables) entry(t.schema, false).tables += 1;
  const counts = await objectCounts(src, tables, new Set(wholeSchemas));
  for (const [schema, c] of counts) if (bySchema.has(schema)) bySchema.get(schema)!.counts = c;
  return [...bySchema.values()].sort((a, b) => a.target.localeCompare(b.target));
}

/** Target schemas and tables that exist already (objects go into them; conflicts: ignore keeps such tables). */
async function markExisting(tgt: Client | undefined, plan: MigrationPlanPreview): Promise<void> {
  if (!tgt) return;
  const { rows } = await tgt.query<{ name: string }>(USER_SCHEMAS_SQL);
  const schemas = new Set(rows.map((r) => r.name));
  for (const s of plan.schemas) s.exists = schemas.has(s.target);
  const tables = await existingTables(tgt);
  for (const t of plan.tables) if (tables.has(tableKey(t.target))) t.preexisting = true;
}

/** The copy's duration: at --mb-per-second, else at one COPY stream's rate measured on the biggest table. */
async function estimate(src: Client, input: PlanInput, plan: MigrationPlanPreview, label: string): Promise<void> {
  const lanes = busyLanes(input.parallelism.tables, plan.totals.copyUnits);
  const throttle = input.throttle.full.mbPerSecond;
  if (input.mbPerSecond !== undefined) {
    plan.estimate = estimateCopy(plan.totals.bytes, { mbPerSecond: input.mbPerSecond, perLane: false, source: 'configured', basis: `--mb-per-second ${input.mbPerSecond}` }, lanes, throttle);
    return;
  }
  const biggest = plan.tables[0];
  const measured = biggest && biggest.bytes > 0 ? await measureCopyRate(src, biggest).catch(() => undefined) : undefined;
  if (!measured) {
    plan.notes.push('No copy rate could be measured (no table with data, or the sample read failed): give one with --mb-per-second for an estimate.');
    return;
  }
  const basis = `one COPY stream read ${(measured.bytes / 1048576).toFixed(1)} MiB of ${qualified(biggest)} on source ${label} at ${measured.mbPerSecond.toFixed(1)} MiB/s, times ${lanes} lane(s); the target's writes and index builds may be slower`;
  plan.estimate = estimateCopy(plan.totals.bytes, { mbPerSecond: measured.mbPerSecond, perLane: true, source: 'measured', basis }, lanes, throttle);
}

/** Reads up to SAMPLE_BYTES of a table with COPY, as the copy reads it, and times it. */
async function measureCopyRate(src: Client, table: PlannedTable): Promise<{ mbPerSecond: number; bytes: number } | undefined> {
  const rowsWanted = table.rowEstimate && table.bytes > SAMPLE_BYTES ? Math.max(1000, Math.ceil((table.rowEstimate * SAMPLE_BYTES) / table.bytes)) : undefined;
  const limit = rowsWanted ? ` LIMIT ${rowsWanted}` : '';
  await src.query(`SET statement_timeout = ${SAMPLE_TIMEOUT_MS}`);
  const started = process.hrtime.bigint();
  const reader = src.query(new CopyOutRelay(`COPY (SELECT * FROM ONLY ${qualified(table)}${limit}) TO STDOUT`, false));
  await pipeline(reader, new Writable({ write: (_chunk, _enc, done) => done() }));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await src.query('RESET statement_timeout');
  if (reader.bytes < 1024 * 1024 || seconds <= 0) return undefined; // too little to time
  return { mbPerSecond: reader.bytes / 1048576 / seconds, bytes: reader.bytes };
}
