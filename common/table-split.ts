/**
 * Splitting a big table into chunks that copy in parallel, each in a target transaction of its
 * own (spec `copy.splitLargerThan`). A table with a one-column integer primary key is split by
 * key ranges (stable: a row keeps its key, whatever snapshot reads it); any other by block
 * ranges of its heap (`WHERE ctid >= '(a,0)' AND ctid < '(b,0)'`, a TID Range Scan that reads
 * only those blocks; exact under one snapshot, which sees each row version once).
 *
 * Pure and deterministic: shared by the listing activity and the workflows.
 */
import { sizeInKb } from './index-build';

/** How a table is divided: the boundaries between its chunks (n chunks, n - 1 bounds). */
export interface TableSplit {
  by: 'key' | 'blocks';
  /** The integer key column (by: key). */
  column?: string;
  /** Interior boundaries, ascending, as decimal text (keys may exceed 2^53). */
  bounds: string[];
}

/** One chunk: rows with from <= key (or block) < to; an absent end is unbounded. */
export interface ChunkRange {
  index: number;
  count: number;
  by: 'key' | 'blocks';
  column?: string;
  from?: string;
  to?: string;
}

export function chunkRanges(split: TableSplit): ChunkRange[] {
  const count = split.bounds.length + 1;
  return Array.from({ length: count }, (_, index) => ({
    index,
    count,
    by: split.by,
    ...(split.column ? { column: split.column } : {}),
    ...(index > 0 ? { from: split.bounds[index - 1] } : {}),
    ...(index < count - 1 ? { to: split.bounds[index] } : {}),
  }));
}

/**
 * A chunk is what a dead worker costs (it is read again from its start): at most this big. The
 * resume benchmark (bench/RESULTS-resume.md) read 432-654 MiB again per kill with 512 MB chunks
 * and 36 MiB with 128 MB ones, at the same copy speed.
 */
export const MAX_CHUNK_BYTES = 128 * 1024 * 1024;
/** A split table's chunks are activities and signals in history: a 1 TB table makes at most this many (1 GB each). */
export const MAX_CHUNKS = 1024;

/**
 * Chunks for a table of `bytes`: about half the threshold each (a table just over it makes
 * two), but no bigger than MAX_CHUNK_BYTES, and no more than MAX_CHUNKS.
 */
export function chunkCount(bytes: number, splitLargerThan: number): number {
  if (splitLargerThan <= 0 || bytes < splitLargerThan) return 1;
  const chunkBytes = Math.min(splitLargerThan / 2, MAX_CHUNK_BYTES);
  return Math.min(MAX_CHUNKS, Math.max(2, Math.ceil(bytes / chunkBytes)));
}

/** Equal-width key ranges between the smallest and the largest key (BigInt: keys up to 2^63). */
export function keyBounds(min: bigint, max: bigint, chunks: number): string[] {
  const span = max - min + 1n;
  if (chunks < 2 || span < BigInt(chunks)) return [];
  return Array.from({ length: chunks - 1 }, (_, i) => String(min + (span * BigInt(i + 1)) / BigInt(chunks)));
}

/** Equal block ranges of a heap of `blocks` blocks (the last chunk is open: the table may grow). */
export function blockBounds(blocks: number, chunks: number): string[] {
  if (chunks < 2 || blocks < chunks) return [];
  return Array.from({ length: chunks - 1 }, (_, i) => String(Math.floor((blocks * (i + 1)) / chunks)));
}

/**
 * Adds two table checksums of validate/checksum.ts (`<rows>:<sum of row hashes>`): the sum of
 * the chunks' checksums is the table's, since the hash sum does not depend on the order.
 */
export function addChecksums(a: string, b: string): string {
  const [rowsA, sumA] = a.split(':');
  const [rowsB, sumB] = b.split(':');
  return `${Number(rowsA) + Number(rowsB)}:${BigInt(sumA) + BigInt(sumB)}`;
}

/** Describes a chunk for summaries and errors: `id 1000000–1999999`, `blocks 0–4095`. */
export function describeChunk(c: ChunkRange): string {
  const what = c.by === 'key' ? c.column ?? 'key' : 'blocks';
  return `chunk ${c.index + 1}/${c.count} (${what} ${c.from ?? '…'}–${c.to ?? '…'})`;
}

/** The spec's `copy.splitLargerThan` in bytes (0: never split; absent in histories from before). */
export function splitThresholdBytes(copy: { splitLargerThan: string } | undefined): number {
  if (!copy || copy.splitLargerThan === 'off') return 0;
  return (sizeInKb(copy.splitLargerThan) ?? 0) * 1024;
}
