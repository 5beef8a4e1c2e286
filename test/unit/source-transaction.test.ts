import { describe, expect, it } from 'vitest';
import { SourceTransaction } from '../../activities/stream/source-transaction';

describe('source transaction being received', () => {
  it('applies a transaction that commits at or after the target position', () => {
    const t = new SourceTransaction();
    expect(t.begin(0x200n, 0x200n)).toBe(true);
    expect(t.open).toBe(true);
    expect(t.finalLsn).toBe(0x200n);
    expect(t.commit()).toBe(true);
    expect(t.open).toBe(false);
  });

  it('skips one that committed before the target position (an earlier attempt applied it), until its commit', () => {
    const t = new SourceTransaction();
    expect(t.begin(0x1ffn, 0x200n)).toBe(false);
    expect(t.skipping).toBe(true);
    expect(t.commit()).toBe(false);
    expect(t.skipping).toBe(false);
    expect(t.begin(0x300n, 0x200n)).toBe(true);
  });
});
