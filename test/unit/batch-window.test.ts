import { describe, expect, it } from 'vitest';
import { BatchWindow, MAX_BATCH_AGE_MS, MAX_BATCH_BYTES, MAX_BATCH_CHANGES } from '../../activities/stream/batch-window';

const between = { inTransaction: false, waiting: 0, commitNow: false };

describe('batch window (source transactions gathered into one target transaction)', () => {
  it('reads on while no source transaction has ended in it', () => {
    const w = new BatchWindow();
    expect(w.holdsTransactions).toBe(false);
    expect(w.next(10_000, between)).toBe('read');
    expect(w.readWaitMs(10_000, 1_000)).toBe(1_000);
  });

  it('commits once its first transaction waited the age limit, and waits for frames no longer than that', () => {
    const w = new BatchWindow();
    w.transactionEnded(0x100n, 1_000);
    w.transactionEnded(0x200n, 1_050);
    expect(w.endLsn).toBe(0x200n);
    expect(w.next(1_000 + MAX_BATCH_AGE_MS - 1, between)).toBe('read');
    expect(w.readWaitMs(1_030, 1_000)).toBe(MAX_BATCH_AGE_MS - 30);
    expect(w.readWaitMs(5_000, 1_000)).toBe(1);
    expect(w.next(1_000 + MAX_BATCH_AGE_MS, between)).toBe('commit');
  });

  it('never commits in the middle of a source transaction; a big one is applied in pieces', () => {
    const w = new BatchWindow();
    w.transactionEnded(0x100n, 1_000);
    const inside = { ...between, inTransaction: true };
    expect(w.next(1_000 + MAX_BATCH_AGE_MS, inside)).toBe('read');
    w.received(MAX_BATCH_BYTES);
    expect(w.next(1_001, inside)).toBe('apply-piece');
    w.pieceApplied();
    expect(w.next(1_001, inside)).toBe('read');
    expect(w.next(1_001, { ...inside, waiting: MAX_BATCH_CHANGES })).toBe('apply-piece');
  });

  it('reads a small source transaction to its end when the batch fills inside it, then commits', () => {
    const w = new BatchWindow();
    const inside = { ...between, inTransaction: true };
    // Small transactions filled the batch to just under its limit...
    w.received(MAX_BATCH_BYTES - 100);
    w.transactionEnded(0x100n, 1_000);
    expect(w.next(1_001, between)).toBe('read');
    // ...and the next one takes it over: read on to its end, not applied as a piece.
    w.received(200);
    expect(w.next(1_002, inside)).toBe('read');
    w.transactionEnded(0x200n, 1_003);
    expect(w.next(1_003, between)).toBe('commit');
    // A transaction that grows to a quarter of a batch in a full window is applied in pieces.
    w.take();
    w.received(MAX_BATCH_BYTES - 100);
    w.transactionEnded(0x300n, 1_004);
    expect(w.next(1_004, between)).toBe('read');
    w.received(MAX_BATCH_BYTES / 4 - 1);
    expect(w.next(1_005, inside)).toBe('read');
    w.received(1);
    expect(w.next(1_005, inside)).toBe('apply-piece');
  });

  it('commits at once when full or asked to (DDL), between transactions', () => {
    const w = new BatchWindow();
    w.transactionEnded(0x100n, 1_000);
    expect(w.next(1_001, { ...between, commitNow: true })).toBe('commit');
    expect(w.next(1_001, { ...between, waiting: MAX_BATCH_CHANGES })).toBe('commit');
  });

  it('takes the batch and its transactions, leaving an empty window at the same end', () => {
    const w = new BatchWindow();
    w.transactionEnded(0x100n, 1_000);
    w.transactionEnded(0x200n, 1_010);
    const before = w.batch;
    const taken = w.take();
    expect(taken).toEqual({ batch: before, transactions: 2 });
    expect(w.batch).not.toBe(before);
    expect(w.holdsTransactions).toBe(false);
    expect(w.endLsn).toBe(0x200n);
    expect(w.take().transactions).toBe(0);
  });

  it('lets its commit pass a heartbeat read back only while transactions wait in it', () => {
    const w = new BatchWindow();
    w.passHeartbeat(0x300n);
    expect(w.endLsn).toBe(0n);
    w.transactionEnded(0x100n, 1_000);
    w.passHeartbeat(0x300n);
    expect(w.endLsn).toBe(0x300n);
    w.passHeartbeat(0x200n);
    expect(w.endLsn).toBe(0x300n);
  });
});
