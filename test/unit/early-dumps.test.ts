import { afterEach, describe, expect, it, vi } from 'vitest';
import { EarlyDumps } from '../../activities/schema/schema-dump';

describe('EarlyDumps', () => {
  afterEach(() => vi.useRealTimers());
  const args = ['-Fc', '--snapshot=00000003-1'];

  it('gives a dump once, to the same workflow with the same arguments', () => {
    const early = new EarlyDumps();
    expect(early.put('wf-1', args, Buffer.from('dump'))).toBe(true);
    expect(early.take('wf-2', args)).toBeUndefined();
    expect(early.take('wf-1', [...args, '--exclude-table="public"."t"'])).toBeUndefined();
    expect(early.take('wf-1', args)?.toString()).toBe('dump');
    expect(early.take('wf-1', args)).toBeUndefined();
  });

  it('forgets a dump nobody took', () => {
    vi.useFakeTimers();
    const early = new EarlyDumps(1_000);
    early.put('wf-1', args, Buffer.from('dump'));
    vi.advanceTimersByTime(1_001);
    expect(early.take('wf-1', args)).toBeUndefined();
  });

  it('keeps no more than its memory bound, and a taken dump frees its room', () => {
    const early = new EarlyDumps(60_000, 10);
    expect(early.put('wf-1', args, Buffer.alloc(6))).toBe(true);
    expect(early.put('wf-2', args, Buffer.alloc(6))).toBe(false);
    expect(early.take('wf-2', args)).toBeUndefined();
    early.take('wf-1', args);
    expect(early.put('wf-2', args, Buffer.alloc(6))).toBe(true);
    // a retried early dump replaces its first copy instead of counting twice
    expect(early.put('wf-2', args, Buffer.alloc(6))).toBe(true);
  });
});
