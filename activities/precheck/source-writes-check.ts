/**
 * Precheck item for full migrations without a change stream: whether the source takes writes.
 * Such a migration copies the source as of one instant (its exported snapshot). If the worker
 * holding that snapshot is lost, the copies already finished are kept only when nothing was
 * committed on the source since (workflows/migration.ts); a source taking writes has them all
 * copied again. Observed over the precheck (at least a quarter of a second): committed
 * transactions of the whole server, as snapshots see them. The window is short because every
 * migration waits for it (it was a second: most of a small database's precheck): a source
 * taking writes at more than a few transactions a second shows in it, a slower one may not,
 * which costs only the note (a lost snapshot is judged by what was really committed then).
 */
import type { Client } from 'pg';
import type { CheckItem } from '../../common/precheck';
import { committedBetween } from '../snapshot-changes';
import { note, pass } from './items';

const MIN_WINDOW_MS = 250;

/** Starts watching; the returned function waits out the window and makes the item. */
export async function watchSourceWrites(src: Client): Promise<() => Promise<CheckItem>> {
  const started = Date.now();
  const from = await currentSnapshot(src);
  return async () => {
    const rest = MIN_WINDOW_MS - (Date.now() - started);
    if (rest > 0) await new Promise((r) => setTimeout(r, rest));
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const { committed, checked } = await committedBetween(src, from, await currentSnapshot(src));
    if (checked && committed === 0) {
      return pass('source-writes', `The source committed no transaction during the precheck (${seconds} s): if the worker holding the snapshot is lost, only the copies in flight are read again.`);
    }
    const what = checked ? `${committed} transaction(s)` : 'over a million transactions';
    // A note: a lost snapshot on a busy source costs a second copy, never a wrong one.
    return note(
      'source-writes',
      `The source committed ${what} during the precheck (${seconds} s). A full migration copies it as of one instant: if the worker holding that snapshot is lost while the source takes writes, every table copied so far is copied again.`,
      'Stop writes to the source during the migration (then a lost snapshot costs only the copies in flight), or migrate with types [schema, full, incremental] (finished copies are kept and the change stream brings them up to date), or accept that cost.',
    );
  };
}

async function currentSnapshot(src: Client): Promise<string> {
  const { rows } = await src.query<{ s: string }>('SELECT pg_catalog.txid_current_snapshot()::text AS s');
  return rows[0].s;
}
