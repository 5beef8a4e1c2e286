import { describe, expect, it } from 'vitest';
import { LagClock } from '../../activities/stream/lag-clock';

// Times in ms of the worker's clock; the source's clock runs 500 ms behind it.
const SKEW = 500;
const micros = (workerMs: number) => BigInt(workerMs - SKEW) * 1000n;

describe('lag clock', () => {
  it('is 0 when every heartbeat is passed and nothing is pending (idle source)', () => {
    const lag = new LagClock();
    lag.wroteHeartbeat(100n, 1_000 - SKEW, 1_000);
    expect(lag.seconds(1_100)).toBeCloseTo(0.1);
    lag.reached(100n);
    expect(lag.seconds(60_000)).toBe(0);
  });

  it('dates a backlog still in the slot by the oldest heartbeat not passed', () => {
    const lag = new LagClock();
    lag.wroteHeartbeat(100n, 1_000 - SKEW, 1_000);
    lag.reached(100n);
    for (let t = 2_000; t <= 10_000; t += 1_000) lag.wroteHeartbeat(BigInt(t), t - SKEW, t);
    // applied through 4_500: the heartbeat at 5_000 is the oldest waiting
    lag.receivedTransaction(4_400n, micros(4_400));
    lag.reached(4_500n);
    expect(lag.seconds(30_000)).toBeCloseTo(25);
  });

  it('dates received transactions by their commit time, in the worker clock', () => {
    const lag = new LagClock();
    lag.wroteHeartbeat(100n, 1_000 - SKEW, 1_000);
    lag.reached(100n);
    lag.receivedTransaction(150n, micros(1_200));
    expect(lag.seconds(3_200)).toBeCloseTo(2);
    lag.reached(151n);
    expect(lag.seconds(3_200)).toBe(0);
  });

  it('before the first heartbeat is passed, dates the older backlog by the last applied commit', () => {
    const lag = new LagClock();
    lag.wroteHeartbeat(1_000_000n, 600_000 - SKEW, 600_000); // the stream starts 10 min after the backlog began
    lag.receivedTransaction(10n, micros(1_000));
    lag.receivedTransaction(20n, micros(2_000));
    expect(lag.seconds(600_000)).toBeCloseTo(599);
    lag.reached(11n); // first applied; the second not received yet by then would be the same
    lag.reached(21n);
    expect(lag.seconds(600_000)).toBeCloseTo(598);
    lag.reached(1_000_000n);
    expect(lag.seconds(600_000)).toBe(0);
  });

  it('keeps one entry per millisecond of commits, dated by the oldest of them', () => {
    const lag = new LagClock();
    lag.wroteHeartbeat(1n, 1_000 - SKEW, 1_000);
    lag.reached(1n);
    // 30 transactions a millisecond for 10 ms, from 5_000 ms on
    for (let i = 0; i < 300; i += 1) lag.receivedTransaction(BigInt(100 + i), BigInt((5_000 - SKEW) * 1000 + Math.floor(i / 30) * 1000 + (i % 30)));
    expect(lag.pendingEntries).toBe(10);
    expect(lag.seconds(6_000)).toBeCloseTo(1);
    lag.reached(115n); // half of the first millisecond applied: it still dates the lag
    expect(lag.seconds(6_000)).toBeCloseTo(1);
    lag.reached(130n); // the first millisecond applied
    expect(lag.pendingEntries).toBe(9);
    expect(lag.seconds(6_000)).toBeCloseTo(0.999);
    lag.reached(400n);
    expect(lag.pendingEntries).toBe(0);
  });

  it('keeps the oldest pending transaction right through a drain of tens of thousands, applied a batch at a time', () => {
    const lag = new LagClock();
    lag.wroteHeartbeat(1n, 1_000 - SKEW, 1_000);
    lag.reached(1n);
    // transaction i commits at 10_000 + i ms, at LSN 100 + i
    for (let i = 0; i < 50_000; i += 1) lag.receivedTransaction(BigInt(100 + i), micros(10_000 + i));
    for (let applied = 0; applied < 50_000; applied += 7_000) {
      lag.reached(BigInt(100 + applied)); // everything before transaction `applied` is in
      expect(lag.seconds(100_000)).toBeCloseTo((100_000 - (10_000 + applied)) / 1000);
    }
    lag.reached(BigInt(100 + 50_000));
    expect(lag.seconds(100_000)).toBe(0);
  });
});
