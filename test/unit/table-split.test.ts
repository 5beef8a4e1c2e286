import { describe, expect, it } from 'vitest';
import { addChecksums, blockBounds, chunkCount, chunkRanges, keyBounds, splitThresholdBytes } from '../../common/table-split';

describe('table splitting', () => {
  it('splits a table at or over the threshold into chunks of about half of it', () => {
    expect(chunkCount(999, 1000)).toBe(1);
    expect(chunkCount(1000, 1000)).toBe(2);
    expect(chunkCount(10_000, 1000)).toBe(20);
    expect(chunkCount(10_000, 0)).toBe(1); // off
    // a 1 GB threshold: chunks of at most 128 MB, at most 1,024 of them
    const GB = 1024 ** 3;
    expect(chunkCount(1.5 * GB, GB)).toBe(12);
    expect(chunkCount(2 * GB, GB)).toBe(16);
    expect(chunkCount(1024 * GB, GB)).toBe(1024);
  });

  it('divides keys into equal ranges, beyond 2^53 too, and not more chunks than keys', () => {
    expect(keyBounds(1n, 100n, 4)).toEqual(['26', '51', '76']);
    expect(keyBounds(-10n, 9n, 2)).toEqual(['0']);
    expect(keyBounds(9007199254740993n, 9007199254741092n, 2)).toEqual(['9007199254741043']);
    expect(keyBounds(5n, 6n, 3)).toEqual([]);
  });

  it('divides blocks into equal ranges, the last one open', () => {
    expect(blockBounds(100, 4)).toEqual(['25', '50', '75']);
    expect(blockBounds(2, 3)).toEqual([]);
    const ranges = chunkRanges({ by: 'blocks', bounds: ['25', '50'] });
    expect(ranges).toEqual([
      { index: 0, count: 3, by: 'blocks', to: '25' },
      { index: 1, count: 3, by: 'blocks', from: '25', to: '50' },
      { index: 2, count: 3, by: 'blocks', from: '50' },
    ]);
  });

  it('adds chunk checksums into the table checksum', () => {
    expect(addChecksums('2:9223372036854775807', '3:-5')).toBe('5:9223372036854775802');
    expect(addChecksums('0:0', '1:18446744073709551615')).toBe('1:18446744073709551615');
  });

  it('reads the spec threshold', () => {
    expect(splitThresholdBytes({ splitLargerThan: '1GB' })).toBe(1024 ** 3);
    expect(splitThresholdBytes({ splitLargerThan: 'off' })).toBe(0);
    expect(splitThresholdBytes(undefined)).toBe(0);
  });
});
