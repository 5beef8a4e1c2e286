import { describe, expect, it } from 'vitest';
import { nextPollMs } from '../../bench/cdc-lag';

describe('nextPollMs (how often a drain polls the slot)', () => {
  it('polls every 10 ms until the slot has moved', () => {
    expect(nextPollMs(1_000_000, 0, 500)).toBe(10);
    expect(nextPollMs(1_000_000, 5_000, 0)).toBe(10);
  });

  it('polls seldom far from the end and often near it', () => {
    // 1 MB per 100 ms: 100 MB to go is 10 s away
    expect(nextPollMs(100_000_000, 1_000_000, 100)).toBe(20);
    // 40 ms away: a quarter of it
    expect(nextPollMs(400_000, 1_000_000, 100)).toBe(10);
    // a few bytes away: the floor
    expect(nextPollMs(10, 1_000_000, 100)).toBe(2);
  });
});
