/**
 * What a target receives from running COPYs, read from pg_stat_progress_copy (the copy is one
 * uncommitted transaction, so counting rows in the table shows nothing until it commits).
 */
import type { PgCluster } from '../../launch/postgres';

interface CopySample {
  at: number;
  /** `pid:relid` → bytes and rows received so far. */
  copies: Map<string, { bytes: number; rows: number }>;
}

export async function sampleCopies(target: PgCluster, db: string): Promise<CopySample> {
  const rows = await target.query<{ key: string; bytes: string; tuples: string }>(
    `SELECT pid || ':' || relid AS key, bytes_processed AS bytes, tuples_processed AS tuples
       FROM pg_stat_progress_copy WHERE command = 'COPY FROM' AND datname = $1`,
    'postgres',
    [db],
  );
  return { at: Date.now(), copies: new Map(rows.map((r) => [r.key, { bytes: Number(r.bytes), rows: Number(r.tuples) }])) };
}

export function totals(sample: CopySample): { bytes: number; rows: number } {
  let bytes = 0;
  let rows = 0;
  for (const c of sample.copies.values()) {
    bytes += c.bytes;
    rows += c.rows;
  }
  return { bytes, rows };
}

/**
 * Bytes per second received over `ms`, counted only between samples that saw the same COPYs
 * (a COPY that ends or starts in between would count bytes without their time, or the reverse).
 */
export async function measureCopyRate(target: PgCluster, db: string, ms: number, everyMs = 250): Promise<{ bytesPerSecond: number; rowsPerSecond: number; coveredMs: number }> {
  const end = Date.now() + ms;
  let previous = await sampleCopies(target, db);
  let bytes = 0;
  let rows = 0;
  let coveredMs = 0;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, everyMs));
    const next = await sampleCopies(target, db);
    const same = next.copies.size > 0 && next.copies.size === previous.copies.size && [...next.copies.keys()].every((k) => previous.copies.has(k));
    if (same) {
      bytes += totals(next).bytes - totals(previous).bytes;
      rows += totals(next).rows - totals(previous).rows;
      coveredMs += next.at - previous.at;
    }
    previous = next;
  }
  const perSecond = (n: number) => (coveredMs ? (n / coveredMs) * 1000 : 0);
  return { bytesPerSecond: perSecond(bytes), rowsPerSecond: perSecond(rows), coveredMs };
}
