import { describe, expect, it } from 'vitest';
import { otherEnds, readyKeys, type ForeignKey } from '../../activities/copy/early-foreign-keys';
import { tableKey } from '../../common/plan';

const t = (name: string) => ({ schema: 'public', name });
const key = (table: string, references: string, name = `${table}_${references}_fkey`): ForeignKey => ({ table: t(table), references: t(references), name, sql: `-- ${name}` });
const keys = (...names: string[]) => new Set(names.map((n) => tableKey(t(n))));

describe('readyKeys', () => {
  it('takes the keys whose two ends are copied by the unit or committed before, and no other', () => {
    const all = [key('orders', 'customers'), key('lines', 'orders'), key('orders', 'regions'), key('staff', 'staff')];
    const ready = readyKeys(all, keys('orders', 'staff'), keys('customers'));
    expect(ready.map((k) => k.name)).toEqual(['orders_customers_fkey', 'staff_staff_fkey']);
  });

  it('orders them by the end the unit did not copy, so that units waiting for locks never wait in a circle', () => {
    // Unit copies `m`: its keys lock z, a and k (the other ends), in that name order whichever end holds the key.
    const all = [key('m', 'z'), key('a', 'm'), key('m', 'k', 'm_k_2'), key('m', 'k', 'm_k_1')];
    const ready = readyKeys(all, keys('m'), keys('a', 'k', 'z'));
    expect(ready.map((k) => k.name)).toEqual(['a_m_fkey', 'm_k_1', 'm_k_2', 'm_z_fkey']);
  });

  it('depends only on the key sets, not on the order the source listed the keys in', () => {
    const all = [key('b', 'c'), key('a', 'c'), key('c', 'b')];
    const one = readyKeys(all, keys('c'), keys('a', 'b'));
    const two = readyKeys([...all].reverse(), keys('c'), keys('a', 'b'));
    expect(two).toEqual(one);
  });
});

describe('otherEnds', () => {
  it('lists each table at the far end of a key once, leaving out those the unit copied', () => {
    const all = [key('orders', 'customers'), key('lines', 'orders'), key('orders', 'customers', 'second'), key('orders', 'orders')];
    expect(otherEnds(all, keys('orders'))).toEqual([t('customers'), t('lines')]);
    expect(otherEnds([key('orders', 'orders')], keys('orders'))).toEqual([]);
  });
});
