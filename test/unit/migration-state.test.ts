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
    state.restartCopies(() => false);
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

describe('MigrationState with a split table', () => {
  const chunk = (index: number, rows: number, checksum: string) => ({ schema: 'public', name: 'big', rows, bytes: rows * 10, ms: 100 + index, sourceChecksum: checksum, chunk: { index, count: 3 } });

  it('adds up its chunks, and calls it copied only when all are in', () => {
    const state = new MigrationState(0);
    state.setTables(tables);
    state.applyProgress([{ schema: 'public', name: 'big', state: 'copying', rows: 5, bytes: 50, chunk: 0 }, { schema: 'public', name: 'big', state: 'copying', rows: 7, bytes: 70, chunk: 2 }]);
    expect(state.progress().tables.find((t) => t.name === 'big')).toMatchObject({ state: 'copying', rows: 12, bytes: 120 });
    state.recordCopied([chunk(0, 10, '10:5')]);
    state.recordCopied([chunk(1, 20, '20:-7')]);
    expect(state.results.size).toBe(0);
    expect(state.progress().tables.find((t) => t.name === 'big')).toMatchObject({ state: 'copying', rows: 37, bytes: 370 });
    state.applyProgress([{ schema: 'public', name: 'big', state: 'copying', rows: 1, bytes: 1, chunk: 0 }]); // late: ignored
    state.recordCopied([chunk(2, 30, '30:9223372036854775807')]);
    expect(state.results.get(JSON.stringify(['public', 'big']))).toEqual({ schema: 'public', name: 'big', rows: 60, bytes: 600, ms: 102, sourceChecksum: '60:9223372036854775805' });
    expect(state.progress().tables.find((t) => t.name === 'big')).toMatchObject({ state: 'copied', rows: 60 });
  });
});

describe('MigrationState after a lost snapshot', () => {
  it('counts what had been copied under it, and says so in the progress', () => {
    const state = new MigrationState(0);
    state.setTables(tables);
    state.recordCopied([{ schema: 'public', name: 'big', rows: 7, bytes: 900, ms: 5 }]);
    state.applyProgress([{ schema: 'Sales', name: 'Order Items', state: 'copying', rows: 1, bytes: 40 }]);
    expect(state.progress().redone).toBeUndefined();
    // the table in flight: counted from the dead attempt's heartbeat, not from progress signals
    expect(state.restartCopies(() => false, { tables: 1, bytes: 55 })).toEqual({ tables: 2, bytes: 955 });
    state.recordCopied([{ schema: 'public', name: 'big', rows: 7, bytes: 900, ms: 5 }]);
    expect(state.restartCopies(() => false)).toEqual({ tables: 1, bytes: 900 });
    expect(state.progress().redone).toEqual({ tables: 3, bytes: 1855 });
    expect(state.details()).toContain('**Copied again after a lost snapshot:** 3 tables');
  });
});

describe('MigrationState keeping copies after a lost snapshot', () => {
  const chunk = (index: number, rows: number) => ({ schema: 'public', name: 'big', rows, bytes: rows * 10, ms: 100, chunk: { index, count: 3 } });

  it('counts only the copies not kept and the chunks in flight', () => {
    const state = new MigrationState(0);
    state.setTables(tables);
    state.recordCopied([chunk(0, 10)]);
    state.recordCopied([chunk(1, 20)]);
    state.applyProgress([{ schema: 'public', name: 'big', state: 'copying', rows: 3, bytes: 30, chunk: 2 }]);
    state.recordCopied([{ schema: 'Sales', name: 'Order Items', rows: 4, bytes: 400, ms: 5 }]);
    // chunk 0 and the small table are kept, chunk 1 is not, chunk 2 was in flight
    const kept = (t: { name: string }, c?: number) => t.name === 'Order Items' || c === 0;
    expect(state.restartCopies(kept, { tables: 1, bytes: 25 })).toEqual({ tables: 2, bytes: 225 });
    expect(state.progress().tables.find((t) => t.name === 'big')).toMatchObject({ state: 'pending', rows: 10, bytes: 100 });
    expect(state.progress().tables.find((t) => t.name === 'Order Items')).toMatchObject({ state: 'copied', rows: 4 });
    expect(state.results.has(JSON.stringify(['Sales', 'Order Items']))).toBe(true);
    // the rest comes in under the new snapshot: the split table adds up its kept and new chunks
    state.recordCopied([chunk(1, 20)]);
    state.recordCopied([chunk(2, 30)]);
    expect(state.results.get(JSON.stringify(['public', 'big']))).toMatchObject({ rows: 60, bytes: 600 });
  });

  it('keeps a split table whose chunks are all in', () => {
    const state = new MigrationState(0);
    state.setTables(tables);
    for (const i of [0, 1, 2]) state.recordCopied([chunk(i, 10)]);
    expect(state.restartCopies(() => true)).toEqual({ tables: 0, bytes: 0 });
    expect(state.results.get(JSON.stringify(['public', 'big']))).toMatchObject({ rows: 30 });
    expect(state.progress().redone).toBeUndefined();
  });
});

describe('MigrationState when a worker dies in the middle of a copy', () => {
  it('counts what the dead attempt had read as read again', () => {
    const state = new MigrationState(0);
    state.setTables(tables);
    state.recordCopied([{ schema: 'public', name: 'big', rows: 7, bytes: 900, ms: 5, reread: 300 }]);
    expect(state.progress().redone).toEqual({ tables: 1, bytes: 300 });
    expect(state.results.get(JSON.stringify(['public', 'big']))).toMatchObject({ rows: 7, bytes: 900 });
  });
});
