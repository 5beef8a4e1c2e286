import { describe, expect, it } from 'vitest';
import { busyLanes, estimateCopy } from '../../common/migration-plan';
import { formatDuration } from '../../client/plan-output';

const MiB = 1024 * 1024;

describe('the plan estimate', () => {
  it('multiplies a measured per-stream rate by the lanes busy, and takes a configured rate as the whole', () => {
    expect(busyLanes(4, 2)).toBe(2);
    expect(busyLanes(4, 0)).toBe(1);
    const measured = estimateCopy(1000 * MiB, { mbPerSecond: 25, perLane: true, source: 'measured', basis: 'b' }, 4);
    expect(measured).toMatchObject({ mbPerSecond: 100, seconds: 10, source: 'measured', lanes: 4 });
    const configured = estimateCopy(1000 * MiB, { mbPerSecond: 50, perLane: false, source: 'configured', basis: '--mb-per-second 50' }, 4);
    expect(configured).toMatchObject({ mbPerSecond: 50, seconds: 20, source: 'configured' });
  });

  it('is capped by the throttle, and says so', () => {
    const capped = estimateCopy(100 * MiB, { mbPerSecond: 50, perLane: false, source: 'configured', basis: 'x' }, 4, 10);
    expect(capped).toMatchObject({ mbPerSecond: 10, seconds: 10, source: 'throttle', basis: expect.stringContaining('throttle.full.mbPerSecond') });
    expect(estimateCopy(100 * MiB, { mbPerSecond: 5, perLane: false, source: 'configured', basis: 'x' }, 4, 10).source).toBe('configured');
  });

  it('prints durations readably', () => {
    expect(formatDuration(12.34)).toBe('12.3 s');
    expect(formatDuration(185)).toBe('3 min 05 s');
    expect(formatDuration(3720)).toBe('1 h 02 min');
  });
});
