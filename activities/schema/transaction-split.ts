/**
 * A schema script too big for one transaction. Each relation a transaction creates or alters
 * holds a lock until it commits, and the server's lock table is shared by all sessions:
 * `max_locks_per_transaction × (max_connections + max_prepared_transactions)` slots, 6,400 with
 * the defaults. A pre-data script of 10,000 tables (each with its TOAST table and index, a
 * sequence, ...) needs several times that in one transaction and fails with "out of shared
 * memory", where `pg_dump | psql` (one transaction per statement) goes through.
 *
 * So a script whose estimated locks exceed a budget commits in several transactions, each
 * recording how many statements are in (with the step's progress marker), and a retry skips
 * those. A script that fits stays one transaction: all or nothing, as before.
 */

export interface TransactionSplit {
  /** Locks one transaction may take (as `lockEstimate` counts them) before it commits. */
  lockBudget: number;
  /** Statements committed by earlier attempts: skipped (session settings still run). */
  alreadyCommitted: number;
  /** SQL run in a transaction just before it commits, given the statements it brings to. */
  progressSql: (committed: number) => string;
}

/** The lock budget of one transaction: half the lock table, the rest for other sessions. */
export function lockBudget(maxLocksPerTransaction: number, maxConnections: number, maxPreparedTransactions: number): number {
  return Math.max(64, Math.floor((maxLocksPerTransaction * (maxConnections + maxPreparedTransactions)) / 2));
}

/**
 * Session state that pg_restore sets at the start (and now and then: default_tablespace,
 * default_table_access_method): not part of what a transaction commits, so a retry runs it
 * again even where it skips the statements around it.
 */
export function isSessionSetting(statement: string): boolean {
  return /^(SET\s|SELECT\s+pg_catalog\.set_config\s*\()/i.test(statementHead(statement));
}

/**
 * Locks a statement takes, roughly and on the high side: a table comes with its TOAST table
 * and TOAST index, a view or materialized view with the relations it reads; anything else
 * (a sequence, an ALTER, a comment, a type) one.
 */
export function lockEstimate(statement: string): number {
  const head = statementHead(statement);
  if (/^CREATE\s+(UNLOGGED\s+|FOREIGN\s+)?TABLE\s/i.test(head)) return 3;
  if (/^CREATE\s+(OR\s+REPLACE\s+)?(MATERIALIZED\s+)?VIEW\s/i.test(head)) return 4;
  return 1;
}

/** The statement without the comments pg_restore puts before it. */
export function statementHead(statement: string): string {
  let s = statement.trimStart();
  for (;;) {
    if (s.startsWith('--')) {
      const end = s.indexOf('\n');
      s = end < 0 ? '' : s.slice(end + 1).trimStart();
    } else if (s.startsWith('/*')) {
      const end = s.indexOf('*/');
      s = end < 0 ? '' : s.slice(end + 2).trimStart();
    } else return s;
  }
}
