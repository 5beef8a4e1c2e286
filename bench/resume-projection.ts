/**
 * A projection, not a measurement: how long copying 1 TB of table data would take on 1, 4 and 16
 * workers, from the per-lane rate measured on the big table. Assumes every worker runs
 * `lanesPerWorker` copy lanes, each as fast as a lane measured here, and source, target and
 * network growing with the lanes: linear scaling, which this 2-core host cannot check.
 */
export const TERABYTE = 1e12;

export interface ProjectionRow {
  workers: number;
  lanes: number;
  /** Source table bytes (on-disk, as pg_table_size counts them) per second. */
  bytesPerSecond: number;
  seconds: number;
}

/**
 * perLaneCopyBytes: one lane's COPY bytes per second; diskPerCopyByte: the table's on-disk size
 * over its COPY bytes, so that "1 TB" means what a database's size says.
 */
export function projectTerabyte(perLaneCopyBytes: number, diskPerCopyByte: number, lanesPerWorker: number, workers: number[]): ProjectionRow[] {
  return workers.map((w) => {
    const lanes = w * lanesPerWorker;
    const bytesPerSecond = lanes * perLaneCopyBytes * diskPerCopyByte;
    return { workers: w, lanes, bytesPerSecond, seconds: TERABYTE / bytesPerSecond };
  });
}

/** 1 h 23 min, 45 min, 50 s. */
export function formatDuration(seconds: number): string {
  const minutes = Math.round(seconds / 60);
  if (minutes < 1) return `${Math.round(seconds)} s`;
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}
