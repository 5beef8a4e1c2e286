/**
 * The two steps around a split table's chunks (common/table-split.ts), run by the copy
 * workflow: before them, emptying tables that may hold rows (copied under a lost snapshot, or
 * a copy into existing tables), since a chunk never truncates; after the last one, what a
 * whole-table copy does right after its rows: the indexes and keys (for tables this migration
 * created), then ANALYZE. Both may run again: TRUNCATE before any chunk runs, and indexes that
 * exist are skipped.
 */
import { Context } from '@temporalio/activity';
import type { Client } from 'pg';
import { copyDestination, displayName, type TableRef } from '../../common/plan';
import { indexBuildSettings, type IndexBuild } from '../../common/index-build';
import { closeQuietly, openClient, qualified } from '../db';
import { beginUnderSnapshot } from '../snapshot-transaction';
import { resolveBoth, type ActivityDeps, type Endpoints } from '../deps';
import { resolveConnection } from '../credentials';
import { guarded } from '../errors';
import { activityLifetime } from '../activity-lifetime';
import { existingIndexNames, readIndexStatements } from './table-indexes';
import { BOOKKEEPING_DDL, MARKER_SCHEMA } from '../schema/step-marker';

export interface EmptySplitTablesInput extends Pick<Endpoints, 'target' | 'retry'> {
  tables: TableRef[];
  /** The records of these tables' chunks (unit-marker.ts) go with their rows, in the same transaction. */
  records?: { migrationId: string; unitIds: number[] };
}

export function makeEmptySplitTables(deps: ActivityDeps) {
  return async function emptySplitTables(input: EmptySplitTablesInput): Promise<{ emptied: number }> {
    const target = resolveConnection(input.target, deps.env);
    let tgt: Client | undefined;
    const beat = setInterval(() => Context.current().heartbeat(), 1_000); // TRUNCATE may wait for a lock
    try {
      return await guarded({ doing: `empty split tables on target ${target.label}`, secrets: target.secrets, retry: input.retry }, async () => {
        tgt = await openClient(target, 'copy');
        // Tables kept from before (conflicts: ignore) keep their rows: chunks add to them.
        const tables = input.tables.filter((t) => !t.preexisting).map((t) => qualified(copyDestination(t)));
        // Chunks record themselves in the bookkeeping (unit-marker.ts): make it for existing
        // tables too, if the target user may (else their retries are not protected; see copyUnit).
        await tgt.query(BOOKKEEPING_DDL).catch(() => undefined);
        await tgt.query('BEGIN');
        if (tables.length) await tgt.query(`TRUNCATE ONLY ${tables.join(', ')}`);
        if (input.records?.unitIds.length) {
          const { rows } = await tgt.query<{ found: string | null }>(`SELECT pg_catalog.to_regclass('${MARKER_SCHEMA}.units')::text AS found`);
          if (rows[0].found) await tgt.query(`DELETE FROM ${MARKER_SCHEMA}.units WHERE workflow_id = $1 AND unit_id = ANY($2::int[])`, [input.records.migrationId, input.records.unitIds]);
        }
        await tgt.query('COMMIT');
        return { emptied: tables.length };
      });
    } finally {
      clearInterval(beat);
      await closeQuietly(tgt);
    }
  };
}

export interface FinishSplitTableInput extends Endpoints {
  table: TableRef;
  snapshot: string;
  /** The table was created by this migration's pre-data: its indexes and keys are built here. */
  fresh: boolean;
  indexBuild?: IndexBuild;
}

export function makeFinishSplitTable(deps: ActivityDeps) {
  return async function finishSplitTable(input: FinishSplitTableInput): Promise<{ statements: number }> {
    const { source, target, secrets } = resolveBoth(deps, input);
    let src: Client | undefined;
    let tgt: Client | undefined;
    let building = '';
    const endLifetime = activityLifetime({ heartbeatMs: 1_000, details: () => ({ table: displayName(input.table), building }), closeOnCancel: () => [src, tgt] });
    try {
      return await guarded({ doing: () => `finish ${displayName(input.table)}${building ? `: ${building.slice(0, 120)}` : ''}`, secrets, retry: input.retry }, async () => {
        const statements: string[] = [];
        if (input.fresh && !input.table.preexisting) {
          // The statements as of the snapshot, like every copy's.
          src = await openClient(source, 'copy');
          await beginUnderSnapshot(src, input.snapshot);
          const indexes = (await readIndexStatements(src, [input.table])).get(JSON.stringify([input.table.schema, input.table.name])) ?? [];
          await src.query('COMMIT');
          tgt = await openClient(target, 'copy', indexBuildSettings(input.indexBuild));
          const existing = await existingIndexNames(tgt, input.table);
          statements.push(...indexes.filter((s) => !(s.creates && existing.has(s.creates))).map((s) => s.sql));
        }
        tgt ??= await openClient(target, 'copy');
        statements.push(`ANALYZE ${qualified(copyDestination(input.table))}`);
        for (const sql of statements) {
          building = sql;
          await tgt.query(sql);
        }
        return { statements: statements.length };
      });
    } finally {
      endLifetime();
      await closeQuietly(src);
      await closeQuietly(tgt);
    }
  };
}
