/**
 * How validation spreads its row counts over sessions. The counts end every migration, after the
 * last copy, so their wall time is the migration's: a big table gets a session of its own (up to
 * MAX_COUNT_SESSIONS) and the small tables share one, as thousands of tiny tables count fastest
 * in one round trip (validate-tables.ts `countAll`).
 */

/** Sessions one validation batch counts in, at most. */
export const MAX_COUNT_SESSIONS = 4;

/** From this many expected rows a table is counted in a session of its own (when one is free). */
export const OWN_SESSION_ROWS = 100_000;

/**
 * The tables' positions, in groups that each count in one session: the biggest tables first,
 * each added to the group with the fewest rows so far (longest first, so the groups end close
 * together). Every position appears once; groups keep the tables' order inside.
 */
export function countGroups(rows: readonly number[], maxSessions = MAX_COUNT_SESSIONS): number[][] {
  if (!rows.length) return [];
  const big = rows.filter((n) => n >= OWN_SESSION_ROWS).length;
  // A session per big table and one for the rest: the first tables placed (the biggest) each
  // find an empty group, so no group ends empty.
  const sessions = Math.min(maxSessions, big + (big < rows.length ? 1 : 0));
  const groups = Array.from({ length: sessions }, () => ({ rows: 0, positions: [] as number[] }));
  const biggestFirst = rows.map((n, i) => i).sort((a, b) => rows[b] - rows[a] || a - b);
  for (const i of biggestFirst) {
    const lightest = groups.reduce((min, g) => (g.rows < min.rows ? g : min));
    lightest.rows += rows[i];
    lightest.positions.push(i);
  }
  return groups.map((g) => g.positions.sort((a, b) => a - b));
}
