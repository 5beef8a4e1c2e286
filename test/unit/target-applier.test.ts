import { describe, expect, it } from 'vitest';
import type { ChangeBatch } from '../../activities/stream/change-batch';
import { TargetApplier, type TargetClient } from '../../activities/stream/target-applier';
import type { TableChangeCounts } from '../../common/stream';

/** A target that records its statements and answers the position row's lock. */
function fakeTarget(opts: { closed?: boolean; failOn?: RegExp } = {}) {
  const statements: string[] = [];
  const client = {
    query: async (sql: string) => {
      await new Promise((r) => setImmediate(r)); // a round trip
      statements.push(sql.split(/\s+/).slice(0, 2).join(' '));
      if (opts.failOn?.test(sql)) throw new Error(`refused: ${sql}`);
      if (/FOR UPDATE/.test(sql)) return { rows: [{ slot: 's', applied_lsn: '0/0', closed: opts.closed === true }] };
      return { rows: [] };
    },
  } as unknown as TargetClient;
  return { client, statements };
}

const counts = (inserts: number): TableChangeCounts[] => [{ schema: 'public', name: 't', inserts, updates: 0, deletes: 0, truncates: 0 }];

function fakeBatch(inserts: number): ChangeBatch {
  if (inserts === 0) return { isEmpty: true } as ChangeBatch;
  return { isEmpty: false, apply: (c: TargetClient) => c.query(`INSERT ${inserts}`), counts: () => counts(inserts) } as unknown as ChangeBatch;
}

describe('target applier', () => {
  it('applies in one target transaction that also moves the position, and counts what it committed', async () => {
    const { client, statements } = fakeTarget();
    const applier = new TargetApplier(client, 'm1', 0n);
    await applier.apply(fakeBatch(2)); // a piece of a big source transaction
    let committed: TableChangeCounts[] | undefined;
    applier.commit(fakeBatch(3), 0x100n, (c) => (committed = c));
    await applier.settle();
    expect(statements).toEqual(['BEGIN', 'SELECT slot,', 'SET LOCAL', 'INSERT 2', 'INSERT 3', 'UPDATE _pgferry.stream', 'COMMIT']);
    expect(committed).toEqual(counts(5));
    expect(applier.busy).toBe(false);
  });

  it('returns from commit at once and commits in the background (the next batch is read meanwhile)', async () => {
    const { client, statements } = fakeTarget();
    const applier = new TargetApplier(client, 'm1', 0n);
    let done = false;
    applier.commit(fakeBatch(1), 0x100n, () => (done = true));
    expect(applier.busy).toBe(true);
    expect(applier.settled).toBe(false);
    expect(done).toBe(false);
    await new Promise((r) => setTimeout(r, 20));
    expect(applier.settled).toBe(true);
    expect(done).toBe(true);
    await applier.settle();
    expect(applier.busy).toBe(false);
    expect(statements.at(-1)).toBe('COMMIT');
  });

  it('knows a position whose commit has started, with nothing open', async () => {
    const { client } = fakeTarget();
    const applier = new TargetApplier(client, 'm1', 0x100n);
    expect(applier.hasCommitted(fakeBatch(0), 0x100n)).toBe(true);
    expect(applier.hasCommitted(fakeBatch(0), 0x101n)).toBe(false);
    expect(applier.hasCommitted(fakeBatch(1), 0x100n)).toBe(false);
    applier.commit(fakeBatch(0), 0x200n, () => undefined);
    await applier.settle();
    expect(applier.hasCommitted(fakeBatch(0), 0x200n)).toBe(true);
  });

  it('fails the settle after a failed commit, and says what it was doing meanwhile', async () => {
    const { client } = fakeTarget({ failOn: /INSERT/ });
    const busy: boolean[] = [];
    const applier = new TargetApplier(client, 'm1', 0n, (b) => busy.push(b));
    applier.commit(fakeBatch(1), 0x100n, () => undefined);
    await expect(applier.settle()).rejects.toThrow(/refused: INSERT 1/);
    expect(busy).toEqual([true]); // still applying when it failed
  });

  it('sends a transaction\'s opening statements, and then its position and COMMIT, without waiting for each answer', async () => {
    const issued: string[][] = [];
    let answered = 0;
    const client = {
      query: async (sql: string) => {
        issued.push([sql.split(/\s+/)[0], String(answered)]); // the statement, and how many answers had come when it was sent
        await new Promise((r) => setImmediate(r));
        answered += 1;
        return /FOR UPDATE/.test(sql) ? { rows: [{ slot: 's', applied_lsn: '0/0', closed: false }] } : { rows: [] };
      },
    } as unknown as TargetClient;
    const applier = new TargetApplier(client, 'm1', 0n);
    applier.commit(fakeBatch(1), 0x100n, () => undefined);
    await applier.settle();
    expect(issued).toEqual([
      ['BEGIN', '0'],
      ['SELECT', '0'],
      ['SET', '0'],
      ['INSERT', '3'],
      ['UPDATE', '4'],
      ['COMMIT', '4'],
    ]);
  });

  it('refuses to apply once the migration closed the stream (cut over)', async () => {
    const { client, statements } = fakeTarget({ closed: true });
    const applier = new TargetApplier(client, 'm1', 0n);
    await expect(applier.apply(fakeBatch(1))).rejects.toMatchObject({ type: 'StreamClosed', nonRetryable: true });
    // The session setting goes out with the lock (one round trip); no change is applied.
    expect(statements).toEqual(['BEGIN', 'SELECT slot,', 'SET LOCAL']);
  });
});
