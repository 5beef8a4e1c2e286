/** The spec's `copy` section (how tables are copied), validated. */
import { z } from 'zod';
import { sizeInKb } from './index-build';

/** Measured on this project's benchmark machine (README: Splitting big tables). */
export const DEFAULT_SPLIT_LARGER_THAN = '16GB';

export const copySchema = z
  .object({
    /** A table at least this big is copied as chunks in parallel; `off` never splits. */
    splitLargerThan: z
      .union([z.literal('off'), z.string().refine((v) => sizeInKb(v) !== undefined && sizeInKb(v)! >= 1024, 'a size of at least 1MB with a unit (kB, MB, GB or TB), such as 1GB, or off')])
      .default(DEFAULT_SPLIT_LARGER_THAN),
  })
  .strict()
  .prefault({});

export type CopySpec = z.output<typeof copySchema>;

