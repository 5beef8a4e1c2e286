import { describe, expect, it } from 'vitest';
import { buildSyncPlan, earliestLsn, remainingSyncPlan } from '../../common/sync-plan';
import { SyncGates } from '../../activities/stream/sync-gates';
import { UNCHANGED_TOAST, type RelationMessage } from '../../activities/stream/pgoutput-types';
import { CopiedUnits } from '../../workflows/copied-units';
import { groupIntoUnits } from '../../common/units';
import type { TableRef } from '../../common/plan';
import { parseLsn } from '../../common/lsn';

const big: TableRef = { schema: 'public', name: 'big', estimatedBytes: 3e9, split: { by: 'key', column: 'id', bounds: ['100', '200'] } };
const heap: TableRef = { schema: 'public', name: 'heap', estimatedBytes: 2e9, split: { by: 'blocks', bounds: ['50'] } };
const small: TableRef = { schema: 'public', name: 'small', estimatedBytes: 100 };
const other: TableRef = { schema: 'app', name: 'other', estimatedBytes: 200 };

describe('buildSyncPlan', () => {
  it('is not needed when everything was read at one position', () => {
    expect(buildSyncPlan([{ schema: 'public', name: 'a', lsn: '0/10' }, { schema: 'public', name: 'b', lsn: '0/10' }])).toBeUndefined();
  });

  it('lists the tables off the most common position, and key ranges of a table read at several', () => {
    const plan = buildSyncPlan([
      { schema: 'public', name: 'a', lsn: '0/20' },
      { schema: 'public', name: 'b', lsn: '0/20' },
      { schema: 'public', name: 'c', lsn: '0/10' },
      { schema: 'public', name: 'big', lsn: '0/10', range: { column: 'id', to: '100' } },
      { schema: 'public', name: 'big', lsn: '0/20', range: { column: 'id', from: '100' } },
    ]);
    expect(plan).toEqual({
      defaultLsn: '0/20',
      tables: [
        { schema: 'public', name: 'c', lsn: '0/10' },
        { schema: 'public', name: 'big', column: 'id', ranges: [{ to: '100', lsn: '0/10' }, { from: '100', lsn: '0/20' }] },
      ],
    });
    expect(earliestLsn(['0/20', 'A/0', '0/10'])).toBe('0/10');
    expect(remainingSyncPlan(plan, '0/1F')).toBe(plan);
    expect(remainingSyncPlan(plan, '0/20')).toBeUndefined();
  });

  it('refuses a table read at several positions but not by key ranges', () => {
    expect(() => buildSyncPlan([{ schema: 'public', name: 'h', lsn: '0/10' }, { schema: 'public', name: 'h', lsn: '0/20' }])).toThrow(/not in key ranges/);
  });
});

describe('SyncGates', () => {
  const relation = (relationId: number, name: string): RelationMessage => ({
    tag: 'relation',
    relationId,
    schema: 'public',
    name,
    replicaIdentity: 'd',
    columns: [
      { name: 'id', isKey: true, typeOid: 20, typeMod: -1 },
      { name: 'v', isKey: false, typeOid: 25, typeMod: -1 },
    ],
  });
  const plan = {
    defaultLsn: '0/20',
    tables: [
      { schema: 'public', name: 'early', lsn: '0/10' },
      { schema: 'public', name: 'big', column: 'id', ranges: [{ to: '100', lsn: '0/10' }, { from: '100', lsn: '0/30' }] },
    ],
  };
  const gates = new SyncGates(plan);
  gates.learn(relation(1, 'early'));
  gates.learn(relation(2, 'big'));
  gates.learn(relation(3, 'plain'));
  const at = (lsn: string) => parseLsn(lsn);

  it('drops a whole table\'s changes committed before its position', () => {
    const insert = { tag: 'insert' as const, relationId: 1, newTuple: ['1', 'x'] };
    expect(gates.admit(insert, at('0/F'))).toBeUndefined();
    expect(gates.admit(insert, at('0/10'))).toBe(insert);
    const plain = { ...insert, relationId: 3 };
    expect(gates.admit(plain, at('0/1F'))).toBeUndefined();
    expect(gates.admit(plain, at('0/20'))).toBe(plain);
  });

  it('judges a split table by key range', () => {
    const low = { tag: 'delete' as const, relationId: 2, oldKind: 'key' as const, oldTuple: ['5', null] };
    const high = { tag: 'insert' as const, relationId: 2, newTuple: ['150', 'x'] };
    expect(gates.admit(low, at('0/15'))).toBe(low);
    expect(gates.admit(high, at('0/15'))).toBeUndefined();
    expect(gates.admit(high, at('0/30'))).toBe(high);
  });

  it('splits an update that moves a row between ranges due at different positions', () => {
    const lowToHigh = { tag: 'update' as const, relationId: 2, oldKind: 'key' as const, oldTuple: ['5', null], newTuple: ['150', 'x'] };
    expect(gates.admit(lowToHigh, at('0/15'))).toEqual({ tag: 'delete', relationId: 2, oldKind: 'key', oldTuple: ['5', null] });
    const highToLow = { tag: 'update' as const, relationId: 2, oldKind: 'key' as const, oldTuple: ['150', null], newTuple: ['5', 'x'] };
    expect(gates.admit(highToLow, at('0/15'))).toEqual({ tag: 'insert', relationId: 2, newTuple: ['5', 'x'] });
    expect(() => gates.admit({ ...highToLow, newTuple: ['5', UNCHANGED_TOAST] }, at('0/15'))).toThrow(/moved between key ranges/);
    expect(gates.admit(highToLow, at('0/5'))).toBeUndefined();
    expect(gates.admit(highToLow, at('0/30'))).toBe(highToLow);
  });

  it('drops truncates its tables already reflect, and refuses one between a split table\'s positions', () => {
    expect(gates.admitTruncate([1, 3], at('0/15'))).toEqual([1]);
    expect(gates.admitTruncate([2], at('0/5'))).toEqual([]);
    expect(() => gates.admitTruncate([2], at('0/15'))).toThrow(/truncated on the source/);
    expect(gates.admitTruncate([1, 2, 3], at('0/30'))).toEqual([1, 2, 3]);
  });

  it('lets everything through without a plan', () => {
    const none = new SyncGates(undefined);
    const change = { tag: 'insert' as const, relationId: 9, newTuple: ['1'] };
    expect(none.admit(change, 0n)).toBe(change);
  });
});

describe('CopiedUnits', () => {
  const units = groupIntoUnits([big, heap, small, other]);
  const result = (t: TableRef, chunk?: { index: number; count: number }) => ({ schema: t.schema, name: t.name, rows: 1, bytes: 1, ms: 1, ...(chunk ? { chunk } : {}) });

  it('keeps what was copied, and gives the next data phase the rest', () => {
    const copied = new CopiedUnits(units);
    copied.record([result(big, { index: 0, count: 3 })], 's1');
    copied.record([result(big, { index: 2, count: 3 })], 's1');
    copied.record([result(heap, { index: 0, count: 2 })], 's1');
    copied.record([result(small), result(other)], 's1');
    copied.forgetPartialBlockTables(); // heap's chunk 1 is missing: its chunk 0 goes too
    expect(copied.has(heap, 0)).toBe(false);
    expect(copied.has(big, 0)).toBe(true);
    expect(copied.has(other)).toBe(true);
    expect(copied.pending().map((u) => `${u.tables[0].name}${u.chunk ? `#${u.chunk.index}` : ''}`)).toEqual(['big#1', 'heap#0', 'heap#1']);
    expect(copied.toEmpty().tables.map((t) => t.name)).toEqual(['heap']);
    expect(copied.chunksDone()).toEqual({ [JSON.stringify(['public', 'big'])]: 2 });
    expect(copied.toFinish()).toEqual([]);
    // A unit committed under the lost snapshot that the workflow heard of only now says so.
    copied.record([{ ...result(big, { index: 1, count: 3 }), snapshot: 's1' }], 's2');
    copied.record([result(heap, { index: 0, count: 2 })], 's2');
    copied.record([result(heap, { index: 1, count: 2 })], 's2');
    expect(copied.snapshots().sort()).toEqual(['s1', 's2']);
    expect(copied.toFinish().map((t) => t.name)).toEqual(['big', 'heap']);
    const plan = buildSyncPlan(copied.parts((s) => (s === 's1' ? '0/10' : '0/20')));
    expect(plan).toEqual({ defaultLsn: '0/10', tables: [{ schema: 'public', name: 'heap', lsn: '0/20' }] });
  });

  it('forgets everything when the source changed (a full migration)', () => {
    const copied = new CopiedUnits(units);
    copied.record([result(small), result(other)], 's1');
    copied.record([result(big, { index: 0, count: 3 })], 's1');
    copied.forgetAll();
    expect(copied.pending()).toHaveLength(units.length);
    expect(copied.toEmpty().tables.map((t) => t.name).sort()).toEqual(['big', 'heap']);
  });
});
