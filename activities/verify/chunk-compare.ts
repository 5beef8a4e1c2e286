/**
 * Comparing one chunk of a table between a source session and a target session, each inside
 * a snapshot of the same position: the order-independent checksum of validation
 * (validate/checksum.ts: count and sum of 64-bit row hashes) on both sides; for a chunk that
 * differs, the keys whose rows differ (key and row hash, sorted, merged in the worker: a chunk
 * is at most about `chunkRows` rows). And repairing one: its target rows replaced by the
 * source's, the copy's way (COPY relay), inside the caller's target transaction.
 */
import { pipeline } from 'node:stream/promises';
import type { Client } from 'pg';
import type { ChunkRange } from '../../common/table-split';
import { qualified, quoteIdent } from '../db';
import { checksumSql } from '../validate/checksum';
import { agreedRowCount, CopyInRelay, CopyOutRelay } from '../copy/copy-relay';
import { readCopyColumns } from '../copy/columns';
import { tableKey } from '../../common/plan';
import { sourceCondition, targetCondition, type VerifyTable } from './verify-plan';

export interface ChunkSums {
  source: string;
  target: string;
}

export const rowsOf = (checksum: string) => Number(checksum.split(':')[0]);

export async function chunkChecksums(src: Client, tgt: Client, t: VerifyTable, chunk: ChunkRange): Promise<ChunkSums> {
  const [a, b] = await Promise.all([
    src.query<{ checksum: string }>(checksumSql(t.source, { columns: t.sourceColumns, where: sourceCondition(t, chunk) })),
    tgt.query<{ checksum: string }>(checksumSql(t.target, { where: targetCondition(t, chunk) })),
  ]);
  return { source: a.rows[0].checksum, target: b.rows[0].checksum };
}

/** Keys whose rows differ in a chunk (tables with a key only): how many, and the smallest. */
export async function differingKeys(src: Client, tgt: Client, t: VerifyTable, chunk: ChunkRange): Promise<{ count: number; first?: string }> {
  if (!t.key) return { count: 0 };
  const hashes = (client: Client, table: { schema: string; name: string }, key: string, row: string, where: string | undefined) =>
    client.query<{ k: string; h: string }>({
      text: `SELECT ${quoteIdent(key)}::text AS k, pg_catalog.hashtextextended(${row}::text, 0)::text AS h FROM ONLY ${qualified(table)} AS t${where ? ` WHERE ${where}` : ''} ORDER BY ${quoteIdent(key)}`,
      rowMode: 'array',
    } as never);
  const [a, b] = await Promise.all([
    hashes(src, t.source, t.key.source, t.sourceColumns ? `ROW(${t.sourceColumns})` : 't', sourceCondition(t, chunk)),
    hashes(tgt, t.target, t.key.target, 't', targetCondition(t, chunk)),
  ]);
  const left = a.rows as unknown as [string, string][];
  const right = b.rows as unknown as [string, string][];
  let i = 0;
  let j = 0;
  let count = 0;
  let first: bigint | undefined;
  const note = (key: string) => {
    count += 1;
    const k = BigInt(key);
    if (first === undefined || k < first) first = k;
  };
  while (i < left.length || j < right.length) {
    const ki = i < left.length ? BigInt(left[i][0]) : undefined;
    const kj = j < right.length ? BigInt(right[j][0]) : undefined;
    if (kj === undefined || (ki !== undefined && ki < kj)) {
      note(left[i++][0]); // missing on the target
    } else if (ki === undefined || kj < ki) {
      note(right[j++][0]); // on the target only
    } else {
      if (left[i][1] !== right[j][1]) note(left[i][0]);
      i += 1;
      j += 1;
    }
  }
  return { count, ...(first !== undefined ? { first: String(first) } : {}) };
}

/**
 * Replaces the chunk's rows on the target with the source's (under the source session's
 * snapshot), inside the target session's open transaction. Rows are written as the copy and
 * the stream write them: only the migrated columns and rows, triggers and foreign keys off
 * (session_replication_role = replica, set by the caller).
 */
export async function replaceChunk(src: Client, tgt: Client, t: VerifyTable, chunk: ChunkRange): Promise<number> {
  const where = targetCondition(t, chunk);
  await tgt.query(`DELETE FROM ONLY ${qualified(t.target)}${where ? ` WHERE ${where}` : ''}`);
  const format = (await readCopyColumns(src, [t.source])).get(tableKey(t.source))?.format ?? 'text';
  const from = sourceCondition(t, chunk);
  const copyOut = `COPY (SELECT ${t.copyColumns.source.map(quoteIdent).join(', ')} FROM ONLY ${qualified(t.source)}${from ? ` WHERE ${from}` : ''}) TO STDOUT (FORMAT ${format})`;
  const reader = src.query(new CopyOutRelay(copyOut, format === 'binary'));
  const writer = tgt.query(new CopyInRelay(`COPY ${qualified(t.target)} (${t.copyColumns.target.map(quoteIdent).join(', ')}) FROM STDIN (FORMAT ${format})`));
  await pipeline(reader, writer);
  return agreedRowCount(reader, writer);
}
