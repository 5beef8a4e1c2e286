import { describe, expect, it } from 'vitest';
import { drainTps, medianDrain, renderCdcReport, type CdcResult, type DrainResult } from '../../bench/cdc-report';

const drain = (round: number, transactions: number, drainMs: number): DrainResult => ({
  round,
  load: { seconds: 60, transactions, tps: transactions / 60, startLsn: 0, endLsn: 200 * 1048576, endedAt: 0 },
  backlogBytes: 200 * 1048576,
  appliedWhilePausedBytes: 0,
  sentBeforeResumeBytes: 0,
  drainMs,
  cpu: { source: 3, target: 3, worker: 2, temporal: 0.1, other: 0.5, wall: drainMs / 1000 },
  mismatches: [],
});

const info = { command: 'npm run bench:cdc', machine: 'test', scale: 10, seconds: 60, cutoverSeconds: 10, drains: 3, loadAverages: [0, 0] as [number, number] };

describe('the change-capture report', () => {
  it('judges a contender by its median drain, not its best or its last', () => {
    const drains = [drain(0, 200_000, 5_000), drain(1, 200_000, 10_000), drain(2, 200_000, 8_000)];
    const m = medianDrain(drains)!;
    expect(m.round).toBe(2);
    expect(drainTps(m)).toBe(25_000);
    expect(medianDrain([])).toBeUndefined();
  });

  it('states the goal as the ratio of the two medians', () => {
    const native: CdcResult = { name: 'native logical replication', drains: [drain(0, 200_000, 8_000), drain(1, 200_000, 10_000), drain(2, 200_000, 9_000)] };
    // Medians: native 200,000 / 9 s = 22,222 TPS; pgferry 200,000 / 7 s = 28,571 TPS → 1.29×.
    const pgferry: CdcResult = { name: 'pgferry', drains: [drain(0, 200_000, 4_000), drain(1, 200_000, 7_000), drain(2, 200_000, 12_000)] };
    const report = renderCdcReport(info, [native, pgferry]);
    expect(report).toContain('(medians of 3 and 3 rounds): 28571 TPS vs 22222 TPS (1.29×) — **met**');
    expect(report).toContain('| pgferry, round 1 | 200000 |');
    expect(report).toContain('| **pgferry, median of 3** (round 2) |');
  });

  it('says the goal is not met when the medians fall short, whatever one round did', () => {
    const native: CdcResult = { name: 'native logical replication', drains: [drain(0, 200_000, 8_000), drain(1, 200_000, 8_000), drain(2, 200_000, 8_000)] };
    const pgferry: CdcResult = { name: 'pgferry', drains: [drain(0, 200_000, 4_000), drain(1, 200_000, 8_000), drain(2, 200_000, 9_000)] };
    expect(renderCdcReport(info, [native, pgferry])).toContain('(1.00×) — **not met**');
  });
});
