import { expect, it } from 'vitest';
import { restoreJobs } from '../../activities/schema/post-data';

it('runs pg_restore with no more jobs than objects left, and at least one', () => {
  expect(restoreJobs(4, 1)).toBe(1); // one trigger left after the copy: one session, not four
  expect(restoreJobs(4, 3)).toBe(3);
  expect(restoreJobs(4, 250)).toBe(4);
  expect(restoreJobs(0, 5)).toBe(1);
});
