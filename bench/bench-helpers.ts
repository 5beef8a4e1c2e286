/** Small pieces the benchmark scripts share. */
import type { PgCluster } from '../launch/postgres';

/** The value after `--name` on the command line, if given. */
export function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** An empty target database for the next tool, with nothing left to write back from the last one. */
export async function recreateDatabase(target: PgCluster, db: string): Promise<void> {
  await target.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await target.query(`CREATE DATABASE ${db}`);
  await target.query('CHECKPOINT');
}

/** The middle value; with an even count, the mean of the two middle ones (two runs: their mean). */
export function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
