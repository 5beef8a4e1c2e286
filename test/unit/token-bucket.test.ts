import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../activities/rate/token-bucket';

/** Drives a bucket the way a stream does: take, then wait as told. Returns the achieved rate. */
function drive(bucket: TokenBucket, chunk: number, seconds: number, start = 0): { rate: number; end: number } {
  let now = start;
  let taken = 0;
  while (now < start + seconds * 1000) {
    now += bucket.take(chunk, now);
    taken += chunk;
  }
  return { rate: taken / ((now - start) / 1000), end: now };
}

describe('TokenBucket', () => {
  it('never waits when unlimited', () => {
    const bucket = new TokenBucket(undefined, 0);
    expect(bucket.take(1e12, 0)).toBe(0);
  });

  it('holds the rate over time, with chunks bigger than its burst', () => {
    const bucket = new TokenBucket(1000, 0);
    const { rate } = drive(bucket, 700, 30);
    expect(rate).toBeGreaterThan(990);
    expect(rate).toBeLessThan(1010);
  });

  it('answers a take beyond the balance with the time to pay the debt back', () => {
    const bucket = new TokenBucket(100, 0);
    expect(bucket.take(50, 0)).toBe(500); // empty at start: 50 tokens at 100/s
    expect(bucket.take(10, 500)).toBe(100);
  });

  it('saves up at most its burst while idle', () => {
    const bucket = new TokenBucket(100, 0, 0.2);
    expect(bucket.take(20, 60_000)).toBe(0); // 20 saved up (0.2 s worth), not 6,000
    expect(bucket.take(10, 60_000)).toBe(100);
  });

  it('applies a new rate at once, to the debt too', () => {
    const bucket = new TokenBucket(100, 0);
    expect(bucket.take(100, 0)).toBe(1000);
    bucket.setRate(1000, 0);
    expect(bucket.take(0, 0)).toBe(100); // the same debt, paid ten times faster
    const { rate } = drive(bucket, 50, 10, 100);
    expect(rate).toBeGreaterThan(990);
    expect(rate).toBeLessThan(1010);
  });

  it('forgets the debt when the limit is removed', () => {
    const bucket = new TokenBucket(10, 0);
    bucket.take(1000, 0);
    bucket.setRate(undefined, 0);
    expect(bucket.take(5, 0)).toBe(0);
  });
});
