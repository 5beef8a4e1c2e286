import { describe, expect, it } from 'vitest';
import type { MigrationReport } from '../../common/plan';
import { validateSpec } from '../../common/spec';
import { buildReport } from '../../workflows/migration-report';
import { MigrationState } from '../../workflows/migration-state';
import { estimatedReportBytes, REPORT_BUDGET_BYTES, reportSizeItem } from '../../activities/precheck/report-size-check';

const WORKER = '1234567@worker-host-01.internal';
const SPEC = (() => {
  const parsed = validateSpec({ source: 'postgres://app@db1.internal:5432/shop', target: 'postgres://app@db2.internal:5432/shop' });
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  return parsed.spec;
})();

/** The report the workflow returns (buildReport), every table copied with a big table's figures (123M rows, 99 GB, 20 minutes). */
function reportOf(count: number, name: (i: number) => string): MigrationReport {
  const tables = Array.from({ length: count }, (_, i) => ({ schema: 'public', name: name(i), estimatedBytes: 98_765_432_109 }));
  const state = new MigrationState(0);
  state.setTables(tables);
  state.recordCopied(tables.map((t) => ({ schema: t.schema, name: t.name, rows: 123_456_789, bytes: 98_765_432_109, ms: 1_234_567, worker: WORKER })));
  return buildReport(SPEC, state, tables, { checked: count, mismatches: [] }, undefined);
}

/** The report's table entries, as reportOf makes them. */
const reportEntries = (count: number, name: (i: number) => string) => reportOf(count, name).tables;

const names = (tables: MigrationReport['tables']) => ({ count: tables.length, nameChars: tables.reduce((n, t) => n + t.schema.length + t.name.length, 0) });

describe('report-size precheck item', () => {
  it('estimates at least what the report entries take as JSON', () => {
    for (const name of [(i: number) => `t${i}`, (i: number) => `a_rather_long_table_name_of_an_application_${i}`]) {
      const report = reportOf(2_000, name);
      const estimate = estimatedReportBytes(names(report.tables), WORKER);
      expect(estimate).toBeGreaterThanOrEqual(JSON.stringify(report.tables).length);
      // the whole result, as the workflow returns it: the budget leaves room for the rest
      expect(JSON.stringify(report).length - JSON.stringify(report.tables).length).toBeLessThan(2 * 1024 * 1024 - REPORT_BUDGET_BYTES);
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
    const long = names(reportEntries(10_000, (i) => `${'x'.repeat(60)}_${i}`));
    expect(reportSizeItem(long, WORKER).status).toBe('fail');
    expect(reportSizeItem(names(reportEntries(10_000, (i) => `t${i}`)), WORKER).status).toBe('pass');
  });
});
