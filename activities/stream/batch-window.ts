/**
 * The batch window: changes of many source transactions gathered (and netted: change-batch.ts)
 * into one target transaction, which is committed when the batch is big enough or its oldest
 * transaction waited long enough. Committing many source transactions at once is what lets the
 * target keep up with a busy source; the age limit keeps the lag well under a second when the
 * source is quiet. A batch that fills up in the middle of a source transaction is committed at
 * that transaction's end, a few changes later; only a big source transaction (a quarter of a batch
 * or more) is applied in pieces inside the open target transaction and committed at its end
 * (memory stays bounded: a batch holds at most 1¼ times its limit). Pure bookkeeping.
 */
import { ChangeBatch } from './change-batch';

/** A batch is applied once it holds this many changes, or this many bytes of them... */
export const MAX_BATCH_CHANGES = 20_000;
export const MAX_BATCH_BYTES = 64 * 1024 * 1024;
/** ...or its oldest change waited this long (keeps lag well under a second). */
export const MAX_BATCH_AGE_MS = 100;
/**
 * A full batch in the middle of a source transaction with this share of the limit (changes or
 * bytes) is applied as a piece; a smaller one is read to its end and committed. A piece is
 * applied before reading on (its transaction is not over), so the stream stops while the target
 * works: when every batch filled at a small transaction's second change, each was applied that
 * way, ~90 ms a batch with the source, the worker and the target taking turns
 * (bench/RESULTS-levers.md, seventeenth pass).
 */
const PIECE_SHARE = 4;

/** What the stream does next with the window: commit it, apply a piece of a big transaction, or read on. */
export type BatchStep = 'commit' | 'apply-piece' | 'read';

export class BatchWindow {
  /** The changes received and not yet applied. */
  batch = new ChangeBatch();
  /** The end of the last source transaction in the window: the position its commit reaches. */
  endLsn = 0n;
  /** When the window got its first complete source transaction (the worker's clock; 0: none yet). */
  private startedAt = 0;
  private transactions = 0;
  /** Bytes of the changes received (pgoutput messages) since the last piece was applied. */
  private bytes = 0;
  /** What the window held when the source transaction in progress began (as `next` last saw it between transactions). */
  private changesBefore = 0;
  private bytesBefore = 0;

  /** A source transaction with changes for us committed: the window now reaches its end. */
  transactionEnded(endLsn: bigint, now: number): void {
    this.endLsn = endLsn;
    this.transactions += 1;
    if (!this.startedAt) this.startedAt = now;
  }

  /** A change of `bytes` was received. */
  received(bytes: number): void {
    this.bytes += bytes;
  }

  /** Whether a source transaction ended in the window (there is something to commit). */
  get holdsTransactions(): boolean {
    return this.startedAt !== 0;
  }

  /** A heartbeat read back: every transaction before it has arrived, so the window's commit may pass it. */
  passHeartbeat(lsn: bigint): void {
    if (this.startedAt && lsn > this.endLsn) this.endLsn = lsn;
  }

  /**
   * What to do now: `waiting` changes wait to be judged by a row filter (they count towards
   * the size), `inTransaction` a source transaction is half received, `commitNow` something
   * (DDL) asks for the commit at the next transaction's end.
   */
  next(now: number, { inTransaction, waiting, commitNow }: { inTransaction: boolean; waiting: number; commitNow: boolean }): BatchStep {
    const changes = this.batch.size + waiting;
    const full = changes >= MAX_BATCH_CHANGES || this.bytes >= MAX_BATCH_BYTES;
    if (!inTransaction) {
      this.changesBefore = changes;
      this.bytesBefore = this.bytes;
      if (this.startedAt && (full || commitNow || now - this.startedAt >= MAX_BATCH_AGE_MS)) return 'commit';
      return full ? 'apply-piece' : 'read';
    }
    if (!full) return 'read';
    const big = (changes - this.changesBefore) * PIECE_SHARE >= MAX_BATCH_CHANGES || (this.bytes - this.bytesBefore) * PIECE_SHARE >= MAX_BATCH_BYTES;
    return big ? 'apply-piece' : 'read';
  }

  /** How long to wait for the next frame: until the window is due, else `idleMs`. */
  readWaitMs(now: number, idleMs: number): number {
    return this.startedAt ? Math.max(1, MAX_BATCH_AGE_MS - (now - this.startedAt)) : idleMs;
  }

  /** The batch was applied as a piece of a big transaction (not committed). */
  pieceApplied(): void {
    this.batch.clear();
    this.bytes = 0;
    this.changesBefore = 0;
    this.bytesBefore = 0;
  }

  /** Takes the batch and its transactions to commit, leaving an empty window at the same end. */
  take(): { batch: ChangeBatch; transactions: number } {
    const taken = { batch: this.batch, transactions: this.transactions };
    this.batch = new ChangeBatch();
    this.transactions = 0;
    this.startedAt = 0;
    this.bytes = 0;
    this.changesBefore = 0;
    this.bytesBefore = 0;
    return taken;
  }
}
