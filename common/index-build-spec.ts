/** The spec's `indexBuild` field, validated (what it means: index-build.ts). */
import { z } from 'zod';
import { DEFAULT_INDEX_BUILD, sizeInKb, type IndexBuild } from './index-build';

export const indexBuildSchema = z
  .object({
    /** maintenance_work_mem of each build; PostgreSQL accepts 1MB up to 2147483647kB. */
    memory: z
      .string()
      .refine((v) => sizeInKb(v) !== undefined, 'a size with a unit (kB, MB, GB or TB), such as 256MB or 1GB')
      .refine((v) => {
        const kb = sizeInKb(v);
        return kb === undefined || (kb >= 1024 && kb <= 2147483647); // an unreadable size has its own message
      }, 'must be between 1MB and 2147483647kB (PostgreSQL maintenance_work_mem)')
      .default(DEFAULT_INDEX_BUILD.memory),
    /** Parallel workers per build, on top of the session itself; `idle`: the copy lanes with nothing left to copy. */
    workers: z
      .union([z.number().int().min(0).max(1024), z.literal('idle')], { error: 'a number of workers (0 to 1024) or idle' })
      .default(DEFAULT_INDEX_BUILD.workers),
  })
  .strict()
  .prefault({}) satisfies z.ZodType<IndexBuild, unknown>;

