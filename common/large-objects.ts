/**
 * Large objects in the plan: small facts that travel through Temporal (counts, sizes, oid
 * ranges), never their bytes. Large objects belong to the database, not to a schema; they are
 * copied beside the tables, under the same snapshot, in batches of contiguous oids.
 */

/** One copy activity's share: every large object whose oid lies in [firstOid, lastOid]. */
export interface LargeObjectBatch {
  id: number;
  firstOid: number;
  lastOid: number;
  /** As listed under the snapshot (for progress; the copy lists its range again). */
  objects: number;
  bytes: number;
}

export interface LargeObjectListing {
  objects: number;
  bytes: number;
  batches: LargeObjectBatch[];
}

/** What one batch copied, read under the snapshot it ran with. */
export interface LargeObjectCopyResult {
  batchId: number;
  objects: number;
  bytes: number;
  /** Objects found done by an earlier attempt under the same snapshot (not copied again). */
  skipped: number;
  /** Bytes of objects an earlier attempt had committed part of, not copied again (it went on from there). */
  resumedBytes: number;
  ms: number;
}

export interface LargeObjectMismatch {
  oid: number;
  problem: string;
}

export interface LargeObjectValidation {
  mode: 'count' | 'checksum';
  expectedObjects: number;
  actualObjects: number;
  /** Bytes compared (the source's sizes). */
  bytes: number;
  /** The first few objects that differ, each with what differs. */
  mismatches: LargeObjectMismatch[];
  ok: boolean;
}

/** What the cutover did to bring the target's large objects up to the source's. */
export interface LargeObjectSync {
  objects: number;
  bytes: number;
  /** Created on the source since the snapshot. */
  created: number;
  /** Contents changed since the snapshot: copied again. */
  rewritten: number;
  /** Unlinked on the source since the snapshot. */
  dropped: number;
  /** Owner, comment or grants changed. */
  metadata: number;
  bytesCopied: number;
  ms: number;
}

/** Live progress of one batch, sent by its copy activity (best effort, for display). */
export interface LargeObjectProgressUpdate {
  generation: number;
  batchId: number;
  objects: number;
  bytes: number;
}

export const LARGE_OBJECT_PROGRESS_SIGNAL = 'largeObjectProgress';

/** The highest oid: the last batch ends there, so objects created later in the snapshot's past cannot fall between batches. */
export const MAX_OID = 4294967295;

/**
 * Splits objects (sorted by oid) into batches of contiguous oids that together cover every
 * possible oid: about `targetBytes` or `maxObjects` each, and never more than `maxBatches`
 * (each batch is an activity in the history). A big object is a batch of its own.
 */
export function planLargeObjectBatches(
  objects: Array<{ oid: number; size: number }>,
  options: { targetBytes: number; maxObjects: number; maxBatches: number },
): LargeObjectBatch[] {
  if (!objects.length) return [];
  const total = objects.reduce((s, o) => s + o.size, 0);
  const targetBytes = Math.max(options.targetBytes, Math.ceil(total / options.maxBatches));
  const maxObjects = Math.max(options.maxObjects, Math.ceil(objects.length / options.maxBatches));
  const batches: LargeObjectBatch[] = [];
  let current: LargeObjectBatch | undefined;
  for (const o of objects) {
    const full = current && (current.bytes + o.size > targetBytes || current.objects >= maxObjects) && current.objects > 0;
    if (!current || (full && batches.length < options.maxBatches - 1)) {
      if (current) current.lastOid = o.oid - 1;
      current = { id: batches.length, firstOid: batches.length ? o.oid : 0, lastOid: MAX_OID, objects: 0, bytes: 0 };
      batches.push(current);
    }
    current.objects += 1;
    current.bytes += o.size;
  }
  return batches;
}

/** Seconds to copy `bytes` of large objects at a rough, stated rate (for the precheck's plan). */
export const LARGE_OBJECT_ESTIMATE_MB_PER_SECOND = 50;

/**
 * Whether a migration carries large objects: objects.largeObjects (default true) and the data
 * (`full`): like pg_dump, a schema-only migration has none, since they are data.
 */
export function largeObjectsWanted(spec: { types: readonly string[]; objects?: { largeObjects?: boolean } }): boolean {
  return spec.types.includes('full') && spec.objects?.largeObjects !== false;
}
