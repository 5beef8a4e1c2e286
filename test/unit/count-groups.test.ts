import { describe, expect, it } from 'vitest';
import { countGroups, OWN_SESSION_ROWS } from '../../activities/validate/count-groups';

const BIG = OWN_SESSION_ROWS;

describe('countGroups', () => {
  it('counts only small tables in one session', () => {
    expect(countGroups([10, 10, 0, 10])).toEqual([[0, 1, 2, 3]]);
  });

  it('gives each big table a session of its own and the small ones one beside them', () => {
    // The benchmark's big database: pgbench_accounts, wide, nokey and 200 small tables.
    const rows = [5_000_000, 1_000_000, 500_000, ...Array.from({ length: 200 }, () => 1_000)];
    expect(countGroups(rows)).toEqual([[0], [1], [2], rows.slice(3).map((_, i) => i + 3)]);
  });

  it('shares sessions among more big tables than sessions, longest first to the lightest session', () => {
    const groups = countGroups([3 * BIG, 5 * BIG, BIG, 2 * BIG, 4 * BIG, 7], 2);
    expect(groups).toEqual([
      [1, 2, 3], // 5, then 2 (7 against 7: the first), then 1 big
      [0, 4, 5], // 4, then 3 big, then the small one
    ]);
  });

  it('places every table exactly once, whatever the sizes', () => {
    const rows = [BIG * 9, 1, BIG, 0, BIG * 2, 5, BIG, BIG * 3];
    const placed = countGroups(rows).flat().sort((a, b) => a - b);
    expect(placed).toEqual(rows.map((_, i) => i));
    expect(countGroups([])).toEqual([]);
  });
});
