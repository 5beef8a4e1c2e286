// The disk-space check tells the target's own data directory from another server's by its start
// time: postmaster.pid's and pg_postmaster_start_time() are taken moments apart at start-up.
import { describe, expect, it } from 'vitest';
import { sameStart } from '../../activities/precheck/space-checks';

describe('sameStart', () => {
  it("takes the two records of one start, up to 10 s apart, as the same server's", () => {
    expect(sameStart('1764900000', '1764900000')).toBe(true);
    expect(sameStart('1764900000', '1764900001')).toBe(true); // seen in CI
    expect(sameStart('1764900010', '1764900000')).toBe(true);
  });

  it("takes a start more than 10 s apart as another server's (a directory reused, a server restarted)", () => {
    expect(sameStart('1764900000', '1764900011')).toBe(false);
    expect(sameStart('1764900000', '1764986400')).toBe(false);
  });
});
