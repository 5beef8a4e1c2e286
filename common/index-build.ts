/**
 * How pgferry's own target sessions build indexes and keys (spec field `indexBuild`): the
 * memory of each build (maintenance_work_mem) and its parallel workers
 * (max_parallel_maintenance_workers). Only pgferry's sessions get them; the server's settings
 * stay as they are.
 *
 * Why these defaults: pgferry builds the indexes of `parallelism.tables` tables at once, next to
 * copies still running, so the target's cores are already busy. A parallel build then costs
 * more CPU (workers, then a merge) without finishing sooner, and a sort that does not fit in
 * memory is written out and merged again. On the benchmark's 5M-row primary key: 2.2-3.5 CPU-s
 * alone in 1GB vs 3.3-5.2 with 2 workers in 256MB (which spilled 100 MB to disk). Once the
 * copy lanes run out of tables, though, their cores are free: `idle` (the default) gives a
 * build as many parallel workers as there are lanes with nothing left to copy.
 *
 * No zod here: workflows import this file, and their bundle (loaded into every worker) stays
 * free of the spec's validation library (index-build-spec.ts holds the schema).
 */
export type IndexWorkers = number | 'idle';

export const DEFAULT_INDEX_BUILD: IndexBuild = { memory: '1GB', workers: 'idle' };

const UNIT_KB = { kB: 1, MB: 1024, GB: 1024 ** 2, TB: 1024 ** 3 } as const;
const SIZE = /^([1-9]\d*)\s*(kB|MB|GB|TB)$/;

/** Kilobytes of a PostgreSQL memory size such as `256MB`, or undefined if it is not one. */
export function sizeInKb(value: string): number | undefined {
  const m = SIZE.exec(value.trim());
  return m ? Number(m[1]) * UNIT_KB[m[2] as keyof typeof UNIT_KB] : undefined;
}

/** The spec's `indexBuild`, validated (index-build-spec.ts). */
export interface IndexBuild {
  memory: string;
  workers: IndexWorkers;
}

/**
 * The session settings for pgferry's index builds, as a session starts. `undefined` is a
 * workflow started before this field existed: it gets the defaults too.
 */
export function indexBuildSettings(build: IndexBuild | undefined): Record<string, string> {
  const { memory } = build ?? DEFAULT_INDEX_BUILD;
  return { maintenance_work_mem: memory.replace(/\s+/g, ''), max_parallel_maintenance_workers: String(buildWorkers(build, 0)) };
}

/** Parallel workers for a build starting now, with `idleLanes` copy lanes that have nothing left to copy. */
export function buildWorkers(build: IndexBuild | undefined, idleLanes: number): number {
  const workers = (build ?? DEFAULT_INDEX_BUILD).workers;
  return workers === 'idle' ? Math.max(0, idleLanes) : workers;
}

/** Copy lanes with nothing left to copy: none while units wait to start, else those not running one. */
export function idleCopyLanes(queued: number, running: number, parallelism: number): number {
  return queued > 0 ? 0 : Math.max(0, parallelism - running);
}
