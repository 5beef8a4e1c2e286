import { describe, expect, it } from 'vitest';
import { groupIntoUnits } from '../../common/units';

const table = (name: string, estimatedBytes: number) => ({ schema: 'public', name, estimatedBytes });

describe('groupIntoUnits', () => {
  it('gives big tables a unit each, biggest first', () => {
    const units = groupIntoUnits([table('a', 20), table('b', 500), table('c', 100)], { soloBytes: 50, maxTablesPerUnit: 10 });
    expect(units.map((u) => u.tables.map((t) => t.name))).toEqual([['b'], ['c'], ['a']]);
  });

  it('packs small tables up to the table and byte limits', () => {
    const tables = Array.from({ length: 10_000 }, (_, i) => table(`t${i}`, 8192));
    const units = groupIntoUnits(tables, { soloBytes: 16 * 1024 * 1024, maxTablesPerUnit: 50 });
    expect(units).toHaveLength(200);
    expect(new Set(units.flatMap((u) => u.tables.map((t) => t.name))).size).toBe(10_000);
    expect(units.map((u) => u.id)).toEqual(units.map((_, i) => i));
  });

  it('closes a shared unit once its bytes reach the solo size', () => {
    const units = groupIntoUnits([table('a', 40), table('b', 30), table('c', 20)], { soloBytes: 50, maxTablesPerUnit: 10 });
    expect(units.map((u) => u.tables.map((t) => t.name))).toEqual([['a', 'b'], ['c']]);
  });
});

describe('groupIntoUnits with split tables', () => {
  it('gives each chunk of a split table a unit of its own, carrying only its range', () => {
    const big = { schema: 'public', name: 'big', estimatedBytes: 900, split: { by: 'key' as const, column: 'id', bounds: ['100', '200'] } };
    const units = groupIntoUnits([table('small', 10), big], { soloBytes: 50, maxTablesPerUnit: 10 });
    expect(units.map((u) => [u.tables.map((t) => t.name), u.chunk?.index])).toEqual([[['big'], 0], [['big'], 1], [['big'], 2], [['small'], undefined]]);
    expect(units[0].tables[0]).not.toHaveProperty('split');
    expect(units[1].chunk).toEqual({ index: 1, count: 3, by: 'key', column: 'id', from: '100', to: '200' });
    expect(units.map((u) => u.id)).toEqual([0, 1, 2, 3]);
  });
});
