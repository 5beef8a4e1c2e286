import { describe, expect, it } from 'vitest';
import { AttemptHealth, IDLE_HEALTHY_AFTER_MS } from '../../activities/stream/attempt-health';

const SCHEDULED = 1_000_000;
const STARTED = 2_000_000;

describe('attempt health (the change stream retry window)', () => {
  it('counts a first attempt from when the activity was scheduled', () => {
    const health = new AttemptHealth(undefined, SCHEDULED, STARTED);
    expect(health.failingSince()).toBe(SCHEDULED);
    expect(health.details()).toEqual({});
  });

  it('moves the window to the last commit, and hands it to the next attempt as ISO text', () => {
    const health = new AttemptHealth(undefined, SCHEDULED, STARTED);
    health.committed(STARTED + 500);
    expect(health.failingSince()).toBe(STARTED + 500);
    const next = new AttemptHealth(health.details(), SCHEDULED, STARTED + 10_000);
    expect(health.details().healthyAt).toBe(new Date(STARTED + 500).toISOString());
    expect(next.failingSince()).toBe(STARTED + 500);
  });

  it('reads a healthy time in epoch ms, as attempts from before wrote it', () => {
    expect(new AttemptHealth({ healthyAt: STARTED + 1 }, SCHEDULED, STARTED).failingSince()).toBe(STARTED + 1);
    expect(new AttemptHealth({ healthyAt: 'not a date' }, SCHEDULED, STARTED).failingSince()).toBe(SCHEDULED);
  });

  it('is not healthy while idle before getting back to where the last attempt failed', () => {
    const health = new AttemptHealth({ failedAt: '0/500' }, SCHEDULED, STARTED);
    health.movedIdle(0x400n, STARTED + 100);
    health.caughtUp(0x400n, STARTED + IDLE_HEALTHY_AFTER_MS + 1);
    expect(health.failingSince()).toBe(SCHEDULED);
    health.movedIdle(0x500n, STARTED + 200);
    expect(health.failingSince()).toBe(STARTED + 200);
  });

  it('is healthy when caught up on a quiet source only once the attempt ran a while', () => {
    const health = new AttemptHealth(undefined, SCHEDULED, STARTED);
    health.caughtUp(0n, STARTED + IDLE_HEALTHY_AFTER_MS);
    expect(health.failingSince()).toBe(SCHEDULED);
    health.caughtUp(0n, STARTED + IDLE_HEALTHY_AFTER_MS + 1);
    expect(health.failingSince()).toBe(STARTED + IDLE_HEALTHY_AFTER_MS + 1);
  });

  it('keeps the furthest failure across attempts', () => {
    const health = new AttemptHealth({ failedAt: '0/900' }, SCHEDULED, STARTED);
    health.failed(0x700n);
    expect(health.details().failedAt).toBe('0/900');
    health.failed(0xa00n);
    expect(health.details().failedAt).toBe('0/A00');
    expect(health.pastFailure(0x9ffn)).toBe(false);
    expect(health.pastFailure(0xa00n)).toBe(true);
  });
});
