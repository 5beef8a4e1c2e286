import { describe, expect, it } from 'vitest';
import { mapLimited } from '../../workflows/map-limited';

describe('mapLimited', () => {
  it('keeps input order and never runs more than the limit at once', async () => {
    let running = 0;
    let most = 0;
    const out = await mapLimited([30, 5, 20, 1, 10], 2, async (ms) => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, ms));
      running -= 1;
      return ms * 2;
    });
    expect(out).toEqual([60, 10, 40, 2, 20]);
    expect(most).toBe(2);
  });

  it('handles no items and a limit below one', async () => {
    expect(await mapLimited([], 3, async (x: number) => x)).toEqual([]);
    expect(await mapLimited([1, 2], 0, async (x) => x + 1)).toEqual([2, 3]);
  });
});
