import { describe, expect, it } from 'vitest';
import { describeRates, RateWindow } from '../../common/rates';
import { CatchUpTracker, describeOutlook, streamingNextStep } from '../../common/stream-outlook';
import { completedDetails } from '../../workflows/completed-details';
import type { MigrationReport } from '../../common/plan';

const MB = 1_048_576;

describe('copy rates', () => {
  it('measures now over the last half minute, the average since the start, and the time left', () => {
    const w = new RateWindow();
    w.sample(0, 0, 0);
    w.sample(15_000, 150 * MB, 1_500_000); // 10 MB/s
    w.sample(30_000, 300 * MB, 3_000_000);
    w.sample(45_000, 330 * MB, 3_300_000); // 2 MB/s lately
    const r = w.rates(60 * MB, 45_000)!;
    expect(r.avgBytesPerSecond).toBe(Math.round((330 * MB) / 45));
    expect(r.bytesPerSecond).toBe(Math.round((180 * MB) / 30)); // samples from 15 s on
    expect(r.etaSeconds).toBe(10);
    expect(describeRates(r)).toBe('6.0 MB/s, 60000 rows/s now · 7.3 MB/s, 73333 rows/s on average · about 10 s left');
  });

  it('knows nothing before a second has passed', () => {
    const w = new RateWindow();
    w.sample(0, 0, 0);
    expect(w.rates(MB, 500)).toBeUndefined();
  });
});

describe('stream outlook', () => {
  it('tells caught up from catching up, with the time left from the shrinking backlog', () => {
    const t = new CatchUpTracker();
    expect(t.observe({ at: 0, lagBytes: 10 * MB, lagSeconds: 60, changesPerSecond: 100 }).etaSeconds).toBeUndefined();
    const o = t.observe({ at: 5_000, lagBytes: 5 * MB, lagSeconds: 30, changesPerSecond: 100 }); // 1 MB/s
    expect(o.caughtUp).toBe(false);
    expect(o.etaSeconds).toBe(5);
    expect(describeOutlook(o)).toBe('catching up: 30.0 s behind (5.0 MB), about 5 s left at the current rate');
    expect(streamingNextStep('m1', o)).toMatch(/^wait until it is caught up \(lag under 5 s\), then stop writes to the source and run `pgferry cutover m1`/);
    const caught = t.observe({ at: 10_000, lagBytes: 0, lagSeconds: 0.2, changesPerSecond: 50 });
    expect(caught.caughtUp).toBe(true);
    expect(describeOutlook(caught)).toBe('caught up (0.2 s behind, 50 changes/s)');
    expect(streamingNextStep('m1', caught)).toMatch(/^caught up: stop writes to the source and run `pgferry cutover m1`/);
  });
});

describe('completed page', () => {
  it('shows downtime, validation per table and every warning', () => {
    const report: MigrationReport = {
      source: 'app@a:5432/shop',
      target: 'app@b:5432/shop',
      types: ['schema', 'full', 'incremental'],
      tables: [
        { schema: 'public', name: 'orders', rows: 10, bytes: 2048, ms: 5 },
        { schema: 'public', name: 'items', rows: 3, bytes: 100, ms: 5 },
      ],
      phases: [{ phase: 'data', ms: 65_000 }],
      warnings: ['ddl-during-migration: DDL is not replicated', 'second'],
      validation: { mode: 'count', tablesChecked: 2, mismatches: [] },
      totalRows: 13,
      totalBytes: 2148,
      totalMs: 70_000,
      cutover: {
        lsn: '0/1',
        downtimeMs: 1234,
        sourceLocked: false,
        sequences: 1,
        validation: { mode: 'count', tablesChecked: 2, mismatches: [{ schema: 'public', name: 'items', expectedRows: 3, actualRows: 2, ok: false }] },
        changesApplied: 5,
        transactionsApplied: 2,
        droppedSlots: [],
      },
    };
    const md = completedDetails(report);
    expect(md).toContain('**Cutover:** downtime **1.23 s**');
    expect(md).toContain('| public.items | 3 | 100 B | 0 | **differs**: expected 3 rows, found 2 |');
    expect(md).toContain('| public.orders | 10 | 2.0 kB | 0.4 | equal |');
    expect(md.indexOf('public.items')).toBeLessThan(md.indexOf('public.orders')); // what differs first
    expect(md).toContain('**Warnings (2):**\n- ddl-during-migration: DDL is not replicated\n- second');
    expect(md).toContain('in 1 min 10 s');
  });

  it('lists the tables that differ first, then the biggest, at most 100', () => {
    const tables = Array.from({ length: 150 }, (_, i) => ({ schema: 'public', name: `t${i}`, rows: i, bytes: 1000 + i, ms: 1 }));
    const report: MigrationReport = {
      source: 'a',
      target: 'b',
      types: ['schema', 'full'],
      tables,
      phases: [],
      warnings: [],
      validation: { mode: 'count', tablesChecked: 150, mismatches: [{ schema: 'public', name: 't3', expectedRows: 3, actualRows: 2, ok: false }] },
      totalRows: 0,
      totalBytes: 0,
      totalMs: 1000,
    };
    const listed = completedDetails(report)
      .split('\n')
      .filter((l) => l.startsWith('| public.'))
      .map((l) => l.split(' | ')[0].slice(2));
    expect(listed).toHaveLength(100);
    expect(listed.slice(0, 3)).toEqual(['public.t3', 'public.t149', 'public.t148']);
    expect(listed.filter((n) => n === 'public.t3')).toHaveLength(1);
    expect(completedDetails(report)).toContain('…and 50 more tables (all in the result).');
  });
});
