/**
 * The source transaction being received: pgoutput sends each committed transaction as Begin,
 * its changes, Commit. A transaction that committed before the target's position was applied
 * by an earlier attempt (the slot resends from its confirmed position, which may lag the
 * target's): it is skipped, so nothing is applied twice.
 * https://www.postgresql.org/docs/15/protocol-logical-replication.html
 */
export class SourceTransaction {
  /** Between Begin and Commit. */
  open = false;
  /** The transaction is older than the target's position: its changes are not applied. */
  skipping = false;
  /** Where the transaction commits (its Begin says): orders it against tables' sync positions. */
  finalLsn = 0n;

  /** Begin: returns whether its changes are to be applied (the target does not have them yet). */
  begin(finalLsn: bigint, applied: bigint): boolean {
    this.open = true;
    // Committed before the target's position: applied already (by an earlier attempt).
    this.skipping = finalLsn < applied;
    this.finalLsn = finalLsn;
    return !this.skipping;
  }

  /** Commit: returns whether the transaction was applied (not skipped). */
  commit(): boolean {
    this.open = false;
    const applied = !this.skipping;
    this.skipping = false;
    return applied;
  }
}
