import { describe, expect, it } from 'vitest';
import type { MigrationReport } from '../common/plan';
import { estimatedReportBytes, REPORT_BUDGET_BYTES, reportSizeItem } from '../activities/precheck/report-size-check';

const WORKER = '1234567@worker-host-01.internal';

/** The report's table entries as buildReport makes them, every one with a big table's figures (123M rows, 99 GB, 20 minutes). */
function reportEntries(count: number, name: (i: number) => string): MigrationReport['tables'] {
  return Array.from({ length: count }, (_, i) => ({ schema: 'public', name: name(i), rows: 123_456_789, bytes: 98_765_432_109, ms: 1_234_567, worker: WORKER, mbPerSecond: 123.4 }));
}

const names = (tables: MigrationReport['tables']) => ({ count: tables.length, nameChars: tables.reduce((n, t) => n + t.schema.length + t.name.length, 0) });

describe('report-size precheck item', () => {
  it('estimates at least what the report entries take as JSON', () => {
    for (const name of [(i: number) => `t${i}`, (i: number) => `a_rather_long_table_name_of_an_application_${i}`]) {
      const tables = reportEntries(2_000, name);
      expect(estimatedReportBytes(names(tables), WORKER)).toBeGreaterThanOrEqual(JSON.stringify(tables).length);
    }
  });

  it('passes 10,000 tables and fails 20,000, naming how many fit in one migration', () => {
    const ok = reportSizeItem(names(reportEntries(10_000, (i) => `tiny_${i}`)), WORKER);
    expect(ok).toMatchObject({ id: 'report-size', status: 'pass' });

    const tooMany = names(reportEntries(20_000, (i) => `tiny_${i}`));
    const item = reportSizeItem(tooMany, WORKER);
    expect(item).toMatchObject({ id: 'report-size', status: 'fail' });
    expect(item.title).toMatch(/^20000 tables are more than one migration can report/);
    const fits = Number(/at most about (\d+) tables/.exec(item.advice)![1]);
    expect(fits).toBeLessThan(20_000);
    // the count it advises does fit
    expect(estimatedReportBytes({ count: fits, nameChars: Math.ceil((tooMany.nameChars * fits) / tooMany.count) }, WORKER)).toBeLessThanOrEqual(REPORT_BUDGET_BYTES);
  });

  it('fails sooner with long names', () => {
    const long = names(reportEntries(9_000, (i) => `${'x'.repeat(60)}_${i}`));
    expect(reportSizeItem(long, WORKER).status).toBe('fail');
    expect(reportSizeItem(names(reportEntries(9_000, (i) => `t${i}`)), WORKER).status).toBe('pass');
  });
});
