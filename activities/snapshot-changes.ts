/**
 * Whether anything was committed on the source between two snapshots: when the snapshot holder
 * of a full migration is lost and nothing was committed since the old snapshot, the data read
 * under it is exactly what the new one would read, and the copies done are kept.
 *
 * A snapshot (`txid_current_snapshot()`: `xmin:xmax:in-progress list`) sees a transaction when
 * it ended before the snapshot was taken. Data can differ only through a top-level transaction
 * the new snapshot sees and the old one does not, that committed: those are among the old
 * snapshot's in-progress list and the ids from its xmax to the new one's. Transaction ids are
 * the whole server's, so a write to another database counts too (the answer errs towards
 * copying again, never towards keeping).
 */
import type { Client } from 'pg';
import { resolveConnection } from './credentials';
import { closeQuietly, openClient } from './db';
import type { ActivityDeps, Endpoints } from './deps';
import { guarded } from './errors';

/** Past this many transaction ids between the snapshots, they are not checked one by one: changed. */
const MAX_CHECKED = 1_000_000;

export interface SourceChangedInput extends Pick<Endpoints, 'source' | 'retry'> {
  /** `txid_current_snapshot()` of the lost snapshot and of the new one. */
  from: string;
  to: string;
}

export interface SourceChanged {
  changed: boolean;
  /** Transactions committed between the snapshots (counted up to the first when `checked` is false). */
  committed: number;
  /** False when there were too many ids to check. */
  checked: boolean;
}

export function makeSourceChangedBetween(deps: ActivityDeps) {
  return async function sourceChangedBetween(input: SourceChangedInput): Promise<SourceChanged> {
    const source = resolveConnection(input.source, deps.env);
    let client: Client | undefined;
    try {
      return await guarded({ doing: `compare snapshots on source ${source.label}`, secrets: source.secrets, retry: input.retry }, async () => {
        client = await openClient(source, 'snapshot');
        return await committedBetween(client, input.from, input.to);
      });
    } finally {
      await closeQuietly(client);
    }
  };
}

/** Counts the transactions committed between two `txid_current_snapshot()` values of this server. */
export async function committedBetween(client: Client, from: string, to: string): Promise<SourceChanged> {
  const { rows: span } = await client.query<{ ids: string }>(
    `SELECT (txid_snapshot_xmax($2::txid_snapshot) - txid_snapshot_xmax($1::txid_snapshot))
            + (SELECT count(*) FROM txid_snapshot_xip($1::txid_snapshot)) AS ids`,
    [from, to],
  );
  if (Number(span[0].ids) > MAX_CHECKED) return { changed: true, committed: 0, checked: false };
  // txid_status is NULL for an id too old to know: counted as committed.
  const { rows } = await client.query<{ committed: string }>(
    `WITH candidates AS (
       SELECT x FROM txid_snapshot_xip($1::txid_snapshot) x
       UNION
       SELECT generate_series(txid_snapshot_xmax($1::txid_snapshot), txid_snapshot_xmax($2::txid_snapshot) - 1)
     )
     SELECT count(*) AS committed FROM candidates
      WHERE NOT txid_visible_in_snapshot(x, $1::txid_snapshot)
        AND txid_visible_in_snapshot(x, $2::txid_snapshot)
        AND coalesce(txid_status(x) = 'committed', true)`,
    [from, to],
  );
  const committed = Number(rows[0].committed);
  return { changed: committed > 0, committed, checked: true };
}
