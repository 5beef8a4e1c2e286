import { describe, expect, it } from 'vitest';
import { validateSpec } from '../../common/spec';
import { wayBackNames } from '../../common/way-back';
import { replicationNames } from '../../common/replication-names';

const base = { source: 'postgres://a@db1/shop', target: 'postgres://b@db2/shop', types: ['schema', 'full', 'incremental'] };
const problems = (extra: Record<string, unknown>) => {
  const r = validateSpec({ ...base, ...extra });
  return r.ok ? [] : r.problems;
};

describe('incremental.wayBack in the spec', () => {
  it('is off by default and accepted with a plain spec', () => {
    const r = validateSpec(base);
    expect(r.ok && r.spec.incremental.wayBack).toBeUndefined();
    expect(problems({ incremental: { wayBack: true } })).toEqual([]);
  });

  it('is refused, naming the field at fault, when data is reshaped on the way', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ objects: { rename: { public: 'shop' } } }, /objects\.rename renames public/],
      [{ objects: { tables: { 'public.orders': { rename: 'orders2' } } } }, /objects\.tables\.public\.orders\.rename/],
      [{ objects: { tables: { 'public.orders': { columns: ['id'] } } } }, /objects\.tables\.public\.orders selects columns/],
      [{ objects: { tables: { 'public.orders': { excludeColumns: ['note'] } } } }, /selects columns/],
      [{ objects: { tables: { 'public.orders': { where: 'id > 5' } } } }, /\.where filters rows/],
      [{ objects: { exclude: ['public.orders.note'] } }, /leaves out the column public\.orders\.note/],
      [{ incremental: { wayBack: true, operations: ['insert'] } }, /streams only some operations/],
      [{ types: ['schema', 'full'] }, /needs the change stream/],
    ];
    for (const [extra, message] of cases) {
      const incremental = { wayBack: true, ...((extra.incremental as object) ?? {}) };
      const found = problems({ ...extra, incremental });
      expect(found, JSON.stringify(extra)).toHaveLength(1);
      expect(found[0]).toMatch(/^incremental\.wayBack: /);
      expect(found[0]).toMatch(message);
    }
    // Selecting tables is fine: the way back publishes the migrated tables only.
    expect(problems({ incremental: { wayBack: true }, objects: { include: ['public'], exclude: ['public.audit_*'] } })).toEqual([]);
  });
});

describe('wayBackNames', () => {
  it('derives target-side names from the migration, valid as slot names', () => {
    const names = wayBackNames(replicationNames('Migration 2026/12: Shop → Cloud'));
    expect(names.slotPrefix).toMatch(/^[a-z0-9_]{1,63}$/);
    expect(names.publication).toBe(names.slotPrefix);
    expect(names.origin).toBe(names.slotPrefix);
    expect(names.publication.endsWith('_back')).toBe(true);
  });
});
