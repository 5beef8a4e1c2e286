import { describe, expect, it } from 'vitest';
import { applyThrottleChange, describeLimit, shareOf, throttleChangeProblem, unlimited } from '../../common/throttle';
import { RateGate } from '../../activities/rate/rate-gate';
import { throttledStream } from '../../activities/rate/throttled-stream';
import { ControlState } from '../../workflows/control-state';

describe('throttle limits', () => {
  it('splits a limit for the whole migration equally between the running activities', () => {
    expect(shareOf({ mbPerSecond: 12, rowsPerSecond: 900 }, 3)).toEqual({ mbPerSecond: 4, rowsPerSecond: 300 });
    expect(shareOf({ mbPerSecond: 12 }, 0)).toEqual({ mbPerSecond: 12 }); // between units: one share
    expect(shareOf({}, 4)).toEqual({});
  });

  it('changes only the given fields of the given phases; null makes a field unlimited', () => {
    const start = { full: { mbPerSecond: 5, rowsPerSecond: 100 }, incremental: { rowsPerSecond: 50 } };
    expect(applyThrottleChange(start, { phases: ['full'], mbPerSecond: 10 })).toEqual({ full: { mbPerSecond: 10, rowsPerSecond: 100 }, incremental: { rowsPerSecond: 50 } });
    expect(applyThrottleChange(start, { phases: ['full', 'incremental'], rowsPerSecond: null })).toEqual({ full: { mbPerSecond: 5 }, incremental: {} });
    expect(start.full.mbPerSecond).toBe(5); // not modified in place
  });

  it('refuses limits that are not positive numbers, and empty changes', () => {
    expect(throttleChangeProblem({ phases: ['full'], mbPerSecond: 0 })).toMatch(/mbPerSecond must be a positive number/);
    expect(throttleChangeProblem({ phases: ['full'], rowsPerSecond: Number.NaN })).toMatch(/rowsPerSecond/);
    expect(throttleChangeProblem({ phases: ['full'] })).toMatch(/nothing to change/);
    expect(throttleChangeProblem({ phases: [] , mbPerSecond: 1 })).toMatch(/phases/);
    expect(throttleChangeProblem({ phases: ['full'], mbPerSecond: 2.5 })).toBeUndefined();
  });

  it('describes limits for people', () => {
    expect(describeLimit({ mbPerSecond: 5, rowsPerSecond: 10 })).toBe('5 MB/s, 10 rows/s');
    expect(describeLimit({})).toBe('unlimited');
  });
});

describe('RateGate', () => {
  it('waits for the stricter of its rows and bytes limits', () => {
    const gate = new RateGate(0);
    gate.obey({ paused: false, limit: { mbPerSecond: 1, rowsPerSecond: 10 } }, 0);
    expect(gate.take(1, 1_048_576, 0)).toBe(1000); // bytes: one second's worth
    expect(gate.take(20, 0, 1000)).toBe(1800); // rows: 20 at 10/s, less the 2 saved up (0.2 s of burst)
  });

  it('holds waiters while paused and lets them go on resume', async () => {
    const gate = new RateGate(0);
    gate.obey({ paused: true, limit: {} });
    let resumed = false;
    const waiting = gate.whenRunning().then(() => (resumed = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(resumed).toBe(false);
    gate.obey({ paused: false, limit: {} });
    await waiting;
    expect(resumed).toBe(true);
  });

  it('is never charged less than nothing by the throttle stage (counts may step back: a binary trailer is no row)', async () => {
    const gate = new RateGate(0);
    const charged: Array<[number, number]> = [];
    gate.take = (rows: number, bytes: number) => (charged.push([rows, bytes]), 0);
    let now = { rows: 0, bytes: 0 };
    const stage = throttledStream(gate, () => now);
    const counts = [
      { rows: 3, bytes: 30 },
      { rows: 2, bytes: 32 }, // the trailer counted, then taken back at CopyDone
      { rows: 5, bytes: 60 },
    ];
    for (const next of counts) {
      now = next;
      await new Promise<void>((resolve) => stage.write(Buffer.from('x'), () => resolve()));
    }
    expect(charged).toEqual([
      [3, 30],
      [0, 2],
      [3, 28],
    ]);
  });
});

describe('ControlState', () => {
  it('gives the copy the full limit and the stream the incremental one', () => {
    const state = new ControlState({ full: { mbPerSecond: 5 }, incremental: { rowsPerSecond: 200 } });
    expect(state.copyControl()).toEqual({ paused: false, limit: { mbPerSecond: 5 } });
    expect(state.streamLimit()).toEqual({ rowsPerSecond: 200 });
    state.setPaused(true, 1000);
    expect(state.view()).toMatchObject({ paused: true, pausedAt: 1000 });
    state.setPaused(true, 2000);
    expect(state.view().pausedAt).toBe(1000); // paused since the first pause
  });

  it('refuses to pause or throttle a finished migration, and to pause a cutover', () => {
    const state = new ControlState(unlimited());
    expect(state.pauseProblem('done', true)).toMatch(/has finished \(done\): there is nothing to pause/);
    expect(state.pauseProblem('cutover', true)).toMatch(/cutting over/);
    expect(state.pauseProblem('cutover', false)).toBeUndefined();
    expect(state.pauseProblem('scheduled', true)).toBeUndefined();
    expect(state.throttleProblem('cancelled', { phases: ['full'], mbPerSecond: 1 })).toMatch(/nothing to throttle/);
  });

  it('shows a scheduled start, a pause and the limits in the Web UI details', () => {
    const state = new ControlState({ full: { mbPerSecond: 5 }, incremental: {} }, '2030-01-01T00:00:00Z');
    state.setPaused(true, 0);
    const details = state.details('scheduled').join('\n');
    expect(details).toContain('**Scheduled** to start at 2030-01-01T00:00:00Z');
    expect(details).toContain('**Paused** since 1970-01-01T00:00:00.000Z');
    expect(details).toContain('**Throttle:** copy 5 MB/s · change stream unlimited');
  });
});
