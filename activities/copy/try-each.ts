/**
 * Runs statements in an open transaction, each in a savepoint of its own: one that fails is
 * rolled back and skipped, and the transaction goes on. What the copy adds on the side
 * (early-foreign-keys.ts, early-triggers.ts) goes in this way, leaving any failure to post-data.
 */
import type { Client } from 'pg';

const SAVEPOINT = 'pgferry_try';

export async function tryEach(client: Client, statements: string[]): Promise<void> {
  for (const sql of statements) {
    await client.query(`SAVEPOINT ${SAVEPOINT}`);
    try {
      await client.query(sql);
    } catch {
      await client.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
    }
    await client.query(`RELEASE SAVEPOINT ${SAVEPOINT}`);
  }
}
