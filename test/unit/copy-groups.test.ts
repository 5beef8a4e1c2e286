// Which of a unit's tables share a COPY query on each side (activities/copy/copy-groups.ts).
import { describe, expect, it } from 'vitest';
import { copyGroups, GROUP_BYTES, GROUP_TABLES, type Groupable } from '../../activities/copy/copy-groups';

const small = (id: string, format = 'binary', bytes = 8192) => ({ id, shares: true, format, bytes });
const alone = (id: string) => ({ id, shares: false, format: 'binary', bytes: 64 * 1024 * 1024 });
const ids = (groups: Array<Array<Groupable & { id: string }>>) => groups.map((g) => g.map((t) => t.id));

describe('copyGroups', () => {
  it('puts neighbouring small tables in one query, in their order', () => {
    expect(ids(copyGroups([small('a'), small('b'), small('c')]))).toEqual([['a', 'b', 'c']]);
  });

  it('copies a table that may not share on its own, and does not group across it', () => {
    expect(ids(copyGroups([small('a'), alone('big'), small('b'), small('c'), alone('big2')]))).toEqual([['a'], ['big'], ['b', 'c'], ['big2']]);
  });

  it('starts a new query when the format changes (the relay counts rows by format)', () => {
    expect(ids(copyGroups([small('a'), small('b', 'text'), small('c', 'text'), small('d')]))).toEqual([['a'], ['b', 'c'], ['d']]);
  });

  it('holds at most GROUP_TABLES tables and GROUP_BYTES listed bytes per query', () => {
    const many = Array.from({ length: 2 * GROUP_TABLES + 5 }, (_, i) => small(`t${i}`));
    expect(copyGroups(many).map((g) => g.length)).toEqual([GROUP_TABLES, GROUP_TABLES, 5]);
    const mid = Array.from({ length: 5 }, (_, i) => small(`m${i}`, 'binary', GROUP_BYTES / 2));
    expect(copyGroups(mid).map((g) => g.length)).toEqual([2, 2, 1]);
  });

  it('keeps every table exactly once', () => {
    const mixed = Array.from({ length: 500 }, (_, i) => (i % 37 === 0 ? alone(`a${i}`) : small(`s${i}`, i % 11 === 0 ? 'text' : 'binary')));
    expect(copyGroups(mixed).flat()).toEqual(mixed);
    expect(copyGroups([])).toEqual([]);
  });
});
