import { describe, expect, it } from 'vitest';
import { describeChanges } from '../../activities/stream/relation-cache';

const cols = (...list: Array<[string, string]>) => list.map(([name, type]) => ({ name, type }));

describe('describeChanges', () => {
  it('names added, dropped and retyped columns', () => {
    const before = cols(['id', 'integer'], ['note', 'text'], ['gone', 'text']);
    const after = cols(['id', 'bigint'], ['note', 'text'], ['extra', 'integer']);
    expect(describeChanges(before, after)).toEqual(['column id changed type from integer to bigint', 'column extra integer added', 'column gone dropped']);
  });

  it('reports a new column order only when order matters (the stream, not the first look at the target)', () => {
    const before = cols(['a', 'text'], ['b', 'text']);
    const after = cols(['b', 'text'], ['a', 'text']);
    expect(describeChanges(before, after)).toEqual(['columns reordered to (b, a)']);
    expect(describeChanges(before, after, false)).toEqual([]);
  });

  it('finds nothing in an identical definition', () => {
    expect(describeChanges(cols(['id', 'integer']), cols(['id', 'integer']))).toEqual([]);
  });
});
