/**
 * Copies one unit of tables from source to target: binary COPY TO STDOUT piped into COPY FROM
 * STDIN through the worker, streaming, so memory stays bounded whatever the table size.
 *
 * Idempotency lives in the target transaction: each table is truncated and refilled inside
 * one transaction per unit, so a retried unit replaces, never duplicates, what an earlier
 * attempt wrote (and an attempt that died wrote nothing at all).
 */
import { pipeline } from 'node:stream/promises';
import { Context } from '@temporalio/activity';
import type { Client } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { TABLE_PROGRESS_SIGNAL, type TableProgressUpdate } from '../../common/messages';
import { displayName, type CopyUnit, type TableCopyResult, type TableRef } from '../../common/plan';
import { closeQuietly, openClient, qualified, quoteLiteral } from '../db';
import { resolveBoth, type ActivityDeps, type Endpoints } from '../deps';
import { guarded } from '../errors';
import { BinaryCopyCounter, countingStream, type CopyCounter } from './binary-copy-counter';
import { readCopyColumns } from './columns';
import { TextCopyCounter } from './text-copy-counter';
import { sourceChecksum } from '../validate/checksum';

export interface CopyUnitInput extends Endpoints {
  unit: CopyUnit;
  snapshot: string;
  checksum: boolean;
  /** The migration workflow, told about live progress (the unit runs in a child workflow). */
  progressWorkflowId: string;
}

const HEARTBEAT_MS = 2_000;
const PROGRESS_SIGNAL_MS = 15_000;

export function makeCopyUnit(deps: ActivityDeps) {
  return async function copyUnit(input: CopyUnitInput): Promise<TableCopyResult[]> {
    const { source, target, secrets } = resolveBoth(deps, input);
    const ctx = Context.current();
    const progress = new ProgressReporter(input.progressWorkflowId);
    let src: Client | undefined;
    let tgt: Client | undefined;
    const abort = () => {
      void closeQuietly(src);
      void closeQuietly(tgt);
    };
    ctx.cancellationSignal.addEventListener('abort', abort);
    let current = input.unit.tables[0];
    try {
      return await guarded(
        { doing: () => `copy ${displayName(current)}`, secrets, retry: input.retry },
        async () => {
          src = await openClient(source, 'copy');
          tgt = await openClient(target, 'copy');
          await src.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
          await src.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(input.snapshot)}`);
          await tgt.query('BEGIN');
          await progress.send(input.unit.tables.map((t) => update(t, 'copying', 0, 0)));
          const results: TableCopyResult[] = [];
          for (const table of input.unit.tables) {
            current = table;
            results.push(await copyTable(src, tgt, table, input.checksum, progress));
          }
          await tgt.query('COMMIT');
          await src.query('COMMIT');
          return results;
        },
      );
    } finally {
      ctx.cancellationSignal.removeEventListener('abort', abort);
      await closeQuietly(src);
      await closeQuietly(tgt);
    }
  };
}

async function copyTable(
  src: Client,
  tgt: Client,
  table: TableRef,
  checksum: boolean,
  progress: ProgressReporter,
): Promise<TableCopyResult> {
  const started = Date.now();
  const ctx = Context.current();
  const columns = await readCopyColumns(src, table);
  const name = qualified(table);
  const format = `(FORMAT ${columns.format})`;
  const counter: CopyCounter = columns.format === 'binary' ? new BinaryCopyCounter() : new TextCopyCounter();

  let into = name;
  if (table.preexisting) {
    // conflicts: ignore on a table that was already there: keep its rows, add the missing ones.
    await tgt.query(`CREATE TEMP TABLE pgferry_stage (LIKE ${name}) ON COMMIT DROP`);
    into = 'pgferry_stage';
  } else {
    await tgt.query(`TRUNCATE ONLY ${name}`);
  }
  // FREEZE is allowed because the table was truncated in this transaction: it saves the target
  // a full rewrite of every page by the first VACUUM after the migration.
  const freeze = table.preexisting ? '' : ', FREEZE';
  const reader = src.query(copyTo(`COPY ${name} (${columns.list}) TO STDOUT ${format}`));
  const writer = tgt.query(copyFrom(`COPY ${into} (${columns.list}) FROM STDIN (FORMAT ${columns.format}${freeze})`));

  const beat = setInterval(() => {
    ctx.heartbeat({ table: displayName(table), rows: counter.rows, bytes: counter.bytes });
    progress.maybeSend([update(table, 'copying', counter.rows, counter.bytes)]);
  }, HEARTBEAT_MS);
  try {
    await pipeline(reader, countingStream(counter), writer);
  } finally {
    clearInterval(beat);
  }

  let rows = Number(writer.rowCount ?? counter.rows);
  if (table.preexisting) {
    const inserted = await tgt.query(`INSERT INTO ${name} (${columns.list}) SELECT ${columns.list} FROM pgferry_stage ON CONFLICT DO NOTHING`);
    await tgt.query('DROP TABLE pgferry_stage');
    rows = inserted.rowCount ?? 0;
  }
  const result: TableCopyResult = {
    schema: table.schema,
    name: table.name,
    rows,
    bytes: counter.bytes,
    ms: Date.now() - started,
  };
  if (checksum) result.sourceChecksum = await sourceChecksum(src, table);
  ctx.heartbeat({ table: displayName(table), rows, bytes: counter.bytes, done: true });
  return result;
}

function update(table: TableRef, state: TableProgressUpdate['state'], rows: number, bytes: number): TableProgressUpdate {
  return { schema: table.schema, name: table.name, state, rows, bytes };
}

/**
 * Live progress for the migration workflow's progress query and Web UI details. Best effort
 * and rate-limited: each signal is a history event, and correctness never depends on it.
 */
class ProgressReporter {
  private lastSent = 0;
  constructor(private readonly workflowId: string) {}

  maybeSend(updates: TableProgressUpdate[]): void {
    if (Date.now() - this.lastSent >= PROGRESS_SIGNAL_MS) void this.send(updates);
  }

  async send(updates: TableProgressUpdate[]): Promise<void> {
    this.lastSent = Date.now();
    try {
      await Context.current().client.workflow.getHandle(this.workflowId).signal(TABLE_PROGRESS_SIGNAL, updates);
    } catch {
      // The workflow may be closing; progress display is not worth failing a copy for.
    }
  }
}
