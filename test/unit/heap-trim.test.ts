import { describe, expect, it } from 'vitest';
import { heapTrimmer, trimAfterActivity } from '../../worker/heap-trim';

const MiB = 1024 * 1024;

describe('heapTrimmer', () => {
  it('collects once the heap grew by the threshold since its last collection, and only then', () => {
    let used = 30 * MiB;
    let collections = 0;
    const trim = heapTrimmer(() => {
      collections += 1;
      used = 26 * MiB; // what survives
    }, () => used, 8 * MiB);

    expect(trim()).toBe(true); // first call: measured from nothing
    expect(collections).toBe(1);
    used = 33 * MiB; // +7 since the collection left 26
    expect(trim()).toBe(false);
    used = 34 * MiB; // +8
    expect(trim()).toBe(true);
    expect(collections).toBe(2);
    expect(trim()).toBe(false); // back at 26
  });

  it('does nothing without an exposed gc (a worker started without --expose-gc)', () => {
    const trim = heapTrimmer(undefined, () => 500 * MiB, 8 * MiB);
    expect(trim()).toBe(false);
  });

  it('runs after every activity, one that failed too, and hands its result or error on', async () => {
    let trims = 0;
    const interceptor = trimAfterActivity(() => (trims += 1));
    const input = { args: [], headers: {} } as unknown as Parameters<NonNullable<typeof interceptor.execute>>[0];
    await expect(interceptor.execute!(input, async () => 'copied')).resolves.toBe('copied');
    expect(trims).toBe(1);
    await expect(interceptor.execute!(input, async () => Promise.reject(new Error('source gone')))).rejects.toThrow('source gone');
    expect(trims).toBe(2);
  });
});
