import { describe, expect, it } from 'vitest';
import { largeObjectsWanted, MAX_OID, planLargeObjectBatches } from '../../common/large-objects';
import { largeObjectEntryIds, withLargeObjects } from '../../activities/large-objects/dump-entries';
import { chainPiece, objectChecksum } from '../../activities/large-objects/object-checksum';
import { parseToc } from '../../activities/schema/existing-objects';
import { LargeObjectProgress } from '../../workflows/large-object-progress';

const objects = (sizes: number[]) => sizes.map((size, i) => ({ oid: 100 + i * 10, size }));

describe('planLargeObjectBatches', () => {
  it('covers every oid with contiguous ranges, whatever was listed', () => {
    const batches = planLargeObjectBatches(objects([5, 5, 5, 5, 5]), { targetBytes: 10, maxObjects: 100, maxBatches: 100 });
    expect(batches[0].firstOid).toBe(0);
    expect(batches[batches.length - 1].lastOid).toBe(MAX_OID);
    for (let i = 1; i < batches.length; i++) expect(batches[i].firstOid).toBe(batches[i - 1].lastOid + 1);
    expect(batches.map((b) => b.objects)).toEqual([2, 2, 1]);
    expect(batches.reduce((s, b) => s + b.bytes, 0)).toBe(25);
  });

  it('gives a big object a batch of its own', () => {
    const batches = planLargeObjectBatches(objects([1, 1000, 1]), { targetBytes: 10, maxObjects: 100, maxBatches: 100 });
    expect(batches.map((b) => [b.objects, b.bytes])).toEqual([[1, 1], [1, 1000], [1, 1]]);
  });

  it('caps the number of batches (each is an activity in the history) and the objects per batch', () => {
    const many = planLargeObjectBatches(objects(Array.from({ length: 10_000 }, () => 1)), { targetBytes: 1, maxObjects: 1, maxBatches: 64 });
    expect(many.length).toBeLessThanOrEqual(64);
    expect(many.reduce((s, b) => s + b.objects, 0)).toBe(10_000);
    const counted = planLargeObjectBatches(objects(Array.from({ length: 10 }, () => 0)), { targetBytes: 100, maxObjects: 3, maxBatches: 100 });
    expect(counted.map((b) => b.objects)).toEqual([3, 3, 3, 1]);
  });

  it('plans nothing for no objects', () => {
    expect(planLargeObjectBatches([], { targetBytes: 1, maxObjects: 1, maxBatches: 1 })).toEqual([]);
  });
});

describe('large objects in the spec', () => {
  it('are carried with the data unless left out', () => {
    expect(largeObjectsWanted({ types: ['schema', 'full'], objects: { largeObjects: true } })).toBe(true);
    expect(largeObjectsWanted({ types: ['schema', 'full'], objects: { largeObjects: false } })).toBe(false);
    expect(largeObjectsWanted({ types: ['schema'], objects: { largeObjects: true } })).toBe(false); // like pg_dump --schema-only
  });
});

describe('the schema dump entries of large objects', () => {
  const toc = parseToc(
    [
      '3336; 2613 424242 BLOB - 424242 postgres',
      '3345; 0 0 COMMENT - LARGE OBJECT 424242 postgres',
      '3346; 0 0 ACL - LARGE OBJECT 424242 postgres',
      '3400; 2613 5 BLOB METADATA - 5..7 lo_owner',
      '215; 1259 16390 TABLE public docs postgres',
      '3347; 0 0 COMMENT public TABLE docs postgres',
    ].join('\n'),
  );

  it('are the objects and their comments and grants', () => {
    expect(largeObjectEntryIds(toc)).toEqual([3336, 3345, 3346, 3400]);
  });

  it('are all kept or all left out, whatever the selection left out', () => {
    expect(withLargeObjects([3336, 215], toc, true)).toEqual([215]);
    expect(withLargeObjects([215], toc, false).sort()).toEqual([215, 3336, 3345, 3346, 3400].sort());
  });
});

describe('the large-object checksum', () => {
  it('chains the pieces in order', () => {
    const ab = chainPiece(chainPiece('', 'a'), 'b');
    expect(ab).toMatch(/^[0-9a-f]{32}$/);
    expect(ab).not.toBe(chainPiece(chainPiece('', 'b'), 'a'));
    expect(objectChecksum(0, '')).toBe('0:');
  });
});

describe('LargeObjectProgress', () => {
  const listing = { objects: 3, bytes: 300, batches: [{ id: 0, firstOid: 0, lastOid: 9, objects: 2, bytes: 200 }, { id: 1, firstOid: 10, lastOid: MAX_OID, objects: 1, bytes: 100 }] };

  it('adds live progress to finished batches, and takes the batches\' own counts once all are done', () => {
    const p = new LargeObjectProgress(listing);
    p.update({ generation: 1, batchId: 0, objects: 1, bytes: 50 });
    expect(p.view()).toMatchObject({ objects: 3, bytes: 300, copiedObjects: 1, copiedBytes: 50 });
    p.record({ batchId: 0, objects: 2, bytes: 200, skipped: 0, resumedBytes: 0, ms: 1 });
    p.update({ generation: 1, batchId: 0, objects: 1, bytes: 1 }); // late: ignored
    p.record({ batchId: 1, objects: 2, bytes: 120, skipped: 0, resumedBytes: 0, ms: 1 }); // one more under the snapshot than listed
    expect(p.view()).toMatchObject({ objects: 4, bytes: 320, copiedObjects: 4, copiedBytes: 320 });
    expect(p.copiedObjects()).toBe(4);
    expect(p.details()).toContain('4/4 copied');
    p.reset();
    expect(p.view()).toMatchObject({ objects: 3, copiedObjects: 0 });
  });
});
