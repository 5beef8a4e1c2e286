/** The report a migration returns (`pgferry start --wait`, `pgferry report`), from its state at the end. */
import { describeConnection } from '../common/connection';
import { tableKey, type CutoverResult, type MigrationReport, type TableRef } from '../common/plan';
import type { MigrationSpec } from '../common/spec';
import type { MigrationState } from './migration-state';
import type { TablesChecked } from './validation';

export function buildReport(spec: MigrationSpec, state: MigrationState, tables: TableRef[], { checked, mismatches }: TablesChecked, cutover: CutoverResult | undefined): MigrationReport {
  const rows = tables.map((t) => {
    const r = state.results.get(tableKey(t)) ?? { schema: t.schema, name: t.name, rows: 0, bytes: 0, ms: 0 };
    const mbPerSecond = r.ms > 0 ? Math.round((r.bytes / 1048576 / (r.ms / 1000)) * 10) / 10 : 0;
    return { ...r, sourceChecksum: undefined, snapshot: undefined, mbPerSecond };
  });
  return {
    source: describeConnection(spec.source),
    target: describeConnection(spec.target),
    types: spec.types,
    tables: rows,
    phases: state.phases,
    warnings: state.warnings,
    validation: { mode: spec.validation, tablesChecked: checked, mismatches },
    totalRows: rows.reduce((s, r) => s + r.rows, 0),
    totalBytes: rows.reduce((s, r) => s + r.bytes, 0),
    totalMs: Date.now() - state.startedAt,
    ...(state.largeObjects ? { largeObjects: state.largeObjects.view() } : {}),
    ...(state.redone.tables || state.redone.bytes ? { redone: { ...state.redone } } : {}),
    cutover,
  };
}
