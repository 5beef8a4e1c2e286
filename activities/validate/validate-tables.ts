/**
 * Validation: the target's row count (and checksum, when asked) of each table against what was
 * read from the source under the copy snapshot. Comparing against the snapshot, not the live
 * source, keeps validation exact while the source goes on taking writes.
 */
import { Context } from '@temporalio/activity';
import type { Client, QueryResult } from 'pg';
import { displayName, type TableValidation } from '../../common/plan';
import { resolveConnection, type ResolvedConnection } from '../credentials';
import { closeInBackground, openClient, qualified } from '../db';
import type { ActivityDeps, Endpoints } from '../deps';
import { guarded } from '../errors';
import { checksumSql } from './checksum';
import { printInZone, sourceTimeZone } from './text-forms';
import { countGroups } from './count-groups';
import { settleAll } from '../settle-all';

/**
 * Session settings of validation connections. Counting and hashing rows gains nothing from JIT
 * compilation, which otherwise costs a few hundred milliseconds of CPU per big table. And no
 * parallel index scans: a copied table is all-visible (COPY FREEZE), so the planner counts it
 * by a parallel index-only scan, whose workers hand the index's pages to each other one at a
 * time; counting 10 M rows took 1.25-2.1 s that way against 0.52 s by a parallel sequential
 * scan and 0.48 s by one process's index-only scan (PostgreSQL 15, bench/RESULTS-levers.md,
 * twelfth pass). The largest size this setting takes (in 8 kB blocks, ~5.3 TB) turns them off.
 */
export const SCAN_SETTINGS = { jit: 'off', min_parallel_index_scan_size: '715827882' };

/**
 * The row counts that end a migration: each by one process reading the table itself. Right
 * after its copy a table is in the OS cache but not in shared buffers, and its indexes are
 * neither: a sequential scan reads through a small ring of buffers, an index-only scan maps a
 * shared buffer for every index page. On pgbench_accounts' 5 M rows right after its copy: 0.41 s
 * by one process's sequential scan, 0.65-0.68 s by its index-only scan (the planner's choice),
 * 0.32 s by a parallel sequential scan that keeps three processes busy. Big tables are counted
 * side by side in sessions of their own instead (countSpread): the same use of the cores for
 * less CPU (bench/RESULTS-levers.md, twentieth pass).
 */
export const COUNT_SETTINGS = { ...SCAN_SETTINGS, max_parallel_workers_per_gather: '0', enable_indexonlyscan: 'off', enable_indexscan: 'off', enable_bitmapscan: 'off' };

export interface ExpectedTable {
  schema: string;
  name: string;
  rows: number;
  checksum?: string;
  /** Count only rows matching this condition (a row filter, on the source side). */
  where?: string;
}

export interface ValidateInput extends Pick<Endpoints, 'target' | 'retry'>, Partial<Pick<Endpoints, 'source'>> {
  mode: 'count' | 'checksum';
  tables: ExpectedTable[];
}

export function makeValidateTables(deps: ActivityDeps) {
  return async function validateTables(input: ValidateInput): Promise<TableValidation[]> {
    const target = resolveConnection(input.target, deps.env);
    // Absent in runs started before checksums printed times in the source's zone.
    const source = input.source && resolveConnection(input.source, deps.env);
    let current = input.tables[0];
    const sessions: Client[] = []; // closed whatever happens
    const open = async (settings: Record<string, string>) => {
      const client = await openClient(target, 'validate', settings);
      sessions.push(client);
      return client;
    };
    // A checksum of a big table takes a while: the heartbeat says the worker is alive meanwhile.
    const ctx = Context.current();
    const beat = setInterval(() => ctx.heartbeat(current ? displayName(current) : undefined), 1_000);
    try {
      return await guarded(
        { doing: () => `validate ${current ? displayName(current) : 'tables'} on target ${target.label}`, secrets: [...target.secrets, ...(source?.secrets ?? [])], retry: input.retry },
        async () => {
          if (input.mode === 'count') return countSpread(input.tables, () => open(COUNT_SETTINGS));
          const client = await open(SCAN_SETTINGS);
          // The expected checksums were read in the source's time zone: print the target's rows in it too.
          if (source) await printInZone(client, await zoneOf(source));
          const results: TableValidation[] = [];
          for (const table of input.tables) {
            current = table;
            results.push(await validateOne(client, table, input.mode));
          }
          return results;
        },
      );
    } finally {
      clearInterval(beat);
      sessions.forEach(closeInBackground);
    }
  };
}

/** The time zone the source's sessions print in (as the copy's, which read the expected checksums). */
async function zoneOf(source: ResolvedConnection): Promise<string> {
  const client = await openClient(source, 'validate');
  try {
    return await sourceTimeZone(client);
  } finally {
    closeInBackground(client);
  }
}

/**
 * The tables' row counts, big tables each in a session of their own beside the rest
 * (count-groups.ts), in the tables' order. Each session counts its tables at one moment; nothing
 * writes them during validation (a change stream starts after it), so the moments need not be
 * the same.
 */
async function countSpread(tables: ExpectedTable[], open: () => Promise<Client>): Promise<TableValidation[]> {
  const groups = countGroups(tables.map((t) => t.rows));
  const counted = await settleAll(groups.map(async (positions) => countAll(await open(), positions.map((i) => tables[i]))));
  const results: TableValidation[] = new Array(tables.length);
  groups.forEach((positions, g) => positions.forEach((i, k) => (results[i] = counted[g][k])));
  return results;
}

/**
 * Row counts of many tables in one round trip (thousands of tiny tables add up otherwise): one
 * statement per table in one query string, in one repeatable-read transaction so that all are
 * counted at the same moment. Statements of their own, not one UNION ALL: planning a union of
 * 500 counts cost the server 160-170 ms of CPU on a fresh connection, 500 statements 90-110.
 */
export async function countAll(client: Client, tables: ExpectedTable[]): Promise<TableValidation[]> {
  if (!tables.length) return [];
  const counts = tables.map((t) => `SELECT count(*)::bigint AS n FROM ONLY ${qualified(t)}${t.where ? ` WHERE (${t.where})` : ''}`);
  const sql = ['BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', ...counts, 'COMMIT'].join(';\n');
  // A failed count (a table dropped meanwhile) leaves the transaction open: close it before the error goes on.
  const answers = (await client.query(sql).catch(async (err: unknown) => {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  })) as unknown as QueryResult<{ n: string }>[];
  const rows = answers.filter((a) => a.command === 'SELECT').map((a) => Number(a.rows[0].n));
  if (rows.length !== tables.length) throw new Error(`counting ${tables.length} tables gave ${rows.length} answers`);
  return tables.map((t, i) => ({ schema: t.schema, name: t.name, expectedRows: t.rows, actualRows: rows[i], ok: rows[i] === t.rows }));
}

async function validateOne(client: Client, table: ExpectedTable, mode: 'count' | 'checksum'): Promise<TableValidation> {
  if (mode === 'checksum') {
    const { rows } = await client.query<{ checksum: string }>(checksumSql(table));
    const actual = rows[0].checksum;
    const actualRows = Number(actual.split(':')[0]);
    return {
      schema: table.schema,
      name: table.name,
      expectedRows: table.rows,
      actualRows,
      expectedChecksum: table.checksum,
      actualChecksum: actual,
      ok: actual === table.checksum,
    };
  }
  const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ONLY ${qualified(table)}`);
  const actualRows = Number(rows[0].n);
  return { schema: table.schema, name: table.name, expectedRows: table.rows, actualRows, ok: actualRows === table.rows };
}
