/**
 * Lists the source's large objects under the copy snapshot and splits them into batches of
 * contiguous oids for the copy activities (only counts, sizes and oid ranges go into history).
 */
import type { Client } from 'pg';
import { planLargeObjectBatches, type LargeObjectListing } from '../../common/large-objects';
import { resolveConnection } from '../credentials';
import { closeQuietly, openClient } from '../db';
import { beginUnderSnapshot } from '../snapshot-transaction';
import type { ActivityDeps, Endpoints } from '../deps';
import { guarded } from '../errors';
import { readSizes, type ObjectSize } from './large-object-sql';

export interface ListLargeObjectsInput extends Pick<Endpoints, 'source' | 'retry'> {
  snapshot: string;
}

/** A batch is about this much (or this many objects); at most MAX_BATCHES activities in the history. */
const BATCH_BYTES = 64 * 1024 * 1024;
const BATCH_OBJECTS = 20_000;
const MAX_BATCHES = 200;

export function makeListLargeObjects(deps: ActivityDeps) {
  return async function listLargeObjects(input: ListLargeObjectsInput): Promise<LargeObjectListing> {
    const source = resolveConnection(input.source, deps.env);
    let src: Client | undefined;
    try {
      return await guarded({ doing: `list the large objects of source ${source.label}`, secrets: source.secrets, retry: input.retry }, async () => {
        src = await openClient(source, 'plan');
        await beginUnderSnapshot(src, input.snapshot);
        const objects: ObjectSize[] = [];
        await readSizes(src, 0, 4294967295, (page) => void objects.push(...page));
        await src.query('COMMIT');
        const batches = planLargeObjectBatches(objects, { targetBytes: BATCH_BYTES, maxObjects: BATCH_OBJECTS, maxBatches: MAX_BATCHES });
        return { objects: objects.length, bytes: objects.reduce((s, o) => s + o.size, 0), batches };
      });
    } finally {
      await closeQuietly(src);
    }
  };
}
