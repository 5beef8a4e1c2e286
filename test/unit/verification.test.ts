import { describe, expect, it } from 'vitest';
import { describeRound, isClean, parseSince, verifiedRefusal, type VerificationRecord, type VerificationView } from '../../common/verification';

const round = (over: Partial<VerificationRecord> = {}): VerificationRecord => ({
  lsn: '0/1000',
  startedAt: '2026-12-04T12:00:00.000Z',
  ms: 2_000,
  tables: 3,
  rows: 200_000,
  chunks: 6,
  pauseMs: 12,
  preHoldMs: 100,
  attempts: 1,
  differing: [],
  differingChunks: 0,
  repairedChunks: 0,
  requestedAt: Date.parse('2026-12-04T12:00:00Z'),
  repair: false,
  clean: true,
  ...over,
});
const view = (last?: VerificationRecord): VerificationView => ({ rounds: last ? 1 : 0, rowsVerified: 0, chunksDiffering: 0, chunksRepaired: 0, ...(last ? { last } : {}) });
const diff = { schema: 'public', name: 'ledger', chunk: 'chunk 1/4 (id …–50000)', sourceRows: 50_000, targetRows: 49_999, keysDiffering: 1, firstKey: '42' };

describe('verification', () => {
  it('a round is clean when every differing chunk was repaired or equal on re-check', () => {
    expect(isClean(round())).toBe(true);
    expect(isClean(round({ differing: [diff], differingChunks: 1 }))).toBe(false);
    expect(isClean(round({ differing: [{ ...diff, repaired: true }], differingChunks: 1, repairedChunks: 1 }))).toBe(true);
    expect(isClean(round({ differing: [{ ...diff, equalOnRecheck: true }], differingChunks: 1 }))).toBe(true);
    expect(isClean(round({ differing: [{ ...diff, repaired: true }], differingChunks: 2 }))).toBe(false); // one not even listed
  });

  it('require-verified refuses without a round, with a round older than asked, and with a round that found differences', () => {
    expect(verifiedRefusal(undefined, undefined, 'x')).toMatch(/no verification round has run/);
    expect(verifiedRefusal(view(round()), Date.parse('2026-12-04T12:30:00Z'), '30m')).toMatch(/started at 2026-12-04T12:00:00.000Z, before 30m/);
    expect(verifiedRefusal(view(round({ clean: false, differing: [diff], differingChunks: 1 })), undefined, 'x')).toMatch(/found 1 chunk\(s\) differing, e\.g\. public\.ledger chunk 1\/4/);
    expect(verifiedRefusal(view(round()), Date.parse('2026-12-04T11:00:00Z'), '1h')).toBeUndefined();
    expect(verifiedRefusal(view(round()), undefined, 'the start')).toBeUndefined();
  });

  it('reads --require-verified as an ISO date-time or a duration back from now, and names a bad value', () => {
    const now = Date.parse('2026-12-04T12:00:00Z');
    expect(parseSince('30m', now)).toBe(now - 30 * 60_000);
    expect(parseSince('2h', now)).toBe(now - 2 * 3_600_000);
    expect(parseSince('1d', now)).toBe(now - 86_400_000);
    expect(parseSince('2026-12-04T10:00:00+01:00', now)).toBe(Date.parse('2026-12-04T09:00:00Z'));
    expect(() => parseSince('yesterday', now)).toThrow(/"yesterday" is neither/);
  });

  it('describes a round with its rate, hold and each differing chunk', () => {
    const text = describeRound(round({ differing: [diff], differingChunks: 1 }));
    expect(text).toMatch(/Verified 3 tables, 200000 rows in 6 chunks at source LSN 0\/1000 in 2\.0 s \(100000 rows\/s\); stream held 12 ms/);
    expect(text).toMatch(/public\.ledger chunk 1\/4 \(id …–50000\): source 50000 rows, target 49999, 1 key\(s\) differ from 42/);
  });
});
