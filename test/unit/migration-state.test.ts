import { describe, expect, it } from 'vitest';
import { MigrationState } from '../../workflows/migration-state';

const tables = [
  { schema: 'public', name: 'big', estimatedBytes: 900 },
  { schema: 'Sales', name: 'Order Items', estimatedBytes: 100 },
];

describe('MigrationState', () => {
  it('computes percent by bytes, counting copied tables fully and busy ones by progress', () => {
    const state = new MigrationState(0);
    state.setTables(tables);
    state.enter('data', 10);
    state.applyProgress([{ schema: 'public', name: 'big', state: 'copying', rows: 10, bytes: 450 }]);
    state.recordCopied([{ schema: 'Sales', name: 'Order Items', rows: 3, bytes: 80, ms: 5 }]);
    const p = state.progress();
    expect(p.percent).toBe(55);
    expect(p.tablesDone).toBe(1);
    expect(p.tables.find((t) => t.name === 'big')?.state).toBe('copying');
  });

  it('ignores late progress for a table that is already copied', () => {
    const state = new MigrationState(0);
    state.setTables(tables);
    state.recordCopied([{ schema: 'public', name: 'big', rows: 7, bytes: 900, ms: 5 }]);
    state.applyProgress([{ schema: 'public', name: 'big', state: 'copying', rows: 1, bytes: 1 }]);
    expect(state.progress().tables.find((t) => t.name === 'big')).toMatchObject({ state: 'copied', rows: 7 });
  });

  it('starts the data phase over after a reset', () => {
    const state = new MigrationState(0);
    state.setTables(tables);
    state.recordCopied([{ schema: 'public', name: 'big', rows: 7, bytes: 900, ms: 5 }]);
    state.resetCopies();
    expect(state.results.size).toBe(0);
    expect(state.progress().tables.every((t) => t.state === 'pending' && t.rows === 0)).toBe(true);
  });

  it('accumulates phase durations and renders Markdown details with quoted names', () => {
    const state = new MigrationState(0);
    state.setTables(tables);
    state.enter('pre-data', 100);
    state.enter('data', 300);
    state.enter('pre-data', 400);
    state.closePhase(450);
    expect(state.phases).toEqual([
      { phase: 'precheck', ms: 100 },
      { phase: 'pre-data', ms: 250 },
      { phase: 'data', ms: 100 },
    ]);
    const md = state.details();
    expect(md).toContain('**Phase:** pre-data');
    expect(md).toContain('| "Sales"."Order Items" | pending | 0 |');
  });
});
