import { describe, expect, it } from 'vitest';
import { validateSpec } from '../../common/spec';
import type { MultiDatabaseReport } from '../../common/databases';
import type { MigrationReport } from '../../common/plan';
import { buildReport } from '../../workflows/migration-report';
import { MigrationState } from '../../workflows/migration-state';
import { withTableRates } from '../../client/migrations';

const SPEC = (() => {
  const parsed = validateSpec({ source: 'postgres://app@db1:5432/shop', target: 'postgres://app@db2:5432/shop' });
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  return parsed.spec;
})();

function reportOf(results: Parameters<MigrationState['recordCopied']>[0]): { state: MigrationState; report: MigrationReport } {
  const tables = results.map((r) => ({ schema: r.schema, name: r.name, estimatedBytes: r.bytes }));
  const state = new MigrationState(0);
  state.setTables(tables);
  state.recordCopied(results);
  return { state, report: buildReport(SPEC, state, tables, { checked: tables.length, mismatches: [] }, undefined) };
}

describe('migration report', () => {
  it("lists the copy's own entries, without a copy of each, and no derived MB/s", () => {
    const { state, report } = reportOf([
      { schema: 'public', name: 'a', rows: 10, bytes: 2 * 1048576, ms: 500, worker: '1@w' },
      { schema: 'public', name: 'b', rows: 3, bytes: 100, ms: 0, worker: '1@w' },
    ]);
    expect(report.tables[0]).toBe(state.results.get('["public","a"]'));
    expect(report.tables[0]).not.toHaveProperty('mbPerSecond');
    expect(report.totalRows).toBe(13);
  });

  it("leaves out what only the workflow uses: the source's checksum and a kept snapshot", () => {
    const { state, report } = reportOf([{ schema: 'public', name: 'a', rows: 1, bytes: 10, ms: 1, sourceChecksum: 'abc', snapshot: '00000003-1', reread: 5 }]);
    expect(report.tables).toEqual([{ schema: 'public', name: 'a', rows: 1, bytes: 10, ms: 1, reread: 5 }]);
    expect(state.results.get('["public","a"]')).toMatchObject({ sourceChecksum: 'abc', snapshot: '00000003-1' }); // validation still reads it
  });
});

describe('the report as the CLI shows it', () => {
  it('gives every table its MB/s, in a single report and in each database of several', () => {
    const { report } = reportOf([
      { schema: 'public', name: 'a', rows: 10, bytes: 2 * 1048576, ms: 500 },
      { schema: 'public', name: 'b', rows: 3, bytes: 100, ms: 0 },
    ]);
    const shown = withTableRates(report) as MigrationReport;
    expect(shown.tables.map((t) => (t as { mbPerSecond?: number }).mbPerSecond)).toEqual([4, 0]);
    expect(report.tables[0]).not.toHaveProperty('mbPerSecond'); // the result itself is left as it is

    const several: MultiDatabaseReport = {
      kind: 'databases',
      databases: [
        { database: 'shop', target: 'shop', workflowId: 'w-shop', state: 'completed', report },
        { database: 'crm', target: 'crm', workflowId: 'w-crm', state: 'failed', error: 'boom' },
      ],
      totalRows: 13,
      totalBytes: 2 * 1048576 + 100,
      totalMs: 1000,
    };
    const both = withTableRates(several) as MultiDatabaseReport;
    expect((both.databases[0].report!.tables[0] as { mbPerSecond?: number }).mbPerSecond).toBe(4);
    expect(both.databases[1]).toEqual(several.databases[1]);
  });
});
