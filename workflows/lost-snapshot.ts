/**
 * When the data phase loses its snapshot (the holder died and exported a new one): what the
 * copy may keep of what it read under the lost one, and whether it goes on under the new one
 * or starts again. Incremental: everything but tables split by blocks with chunks missing (the
 * change stream brings each kept part to the same point from its own snapshot's position).
 * Full: everything, when nothing was committed on the source between the snapshots; else none.
 */
import { condition, patched, type ChildWorkflowHandle } from '@temporalio/workflow';
import type { RedoneWork } from '../common/plan';
import { formatBytes } from '../common/format';
import type { CopiedUnits } from './copied-units';
import type { copyTablesWorkflow } from './copy-tables';
import { copySnapshotSignal } from './messages';
import { acts } from './migration-activities';
import type { MigrationRun } from './migration-run';
import type { SnapshotLease } from './snapshot-lease';

/**
 * The data phase lost its snapshot (`lost`) and starts again under `next`: decides which
 * copies are kept, and says so.
 */
export async function keepAfterLoss(run: MigrationRun, lease: SnapshotLease, copies: CopiedUnits, lost: string, next: string, inFlight: RedoneWork): Promise<void> {
  let kept: string;
  // A migration that lost its snapshot before this deploy replays as it ran: all redone. No
  // recorded history takes this branch, but those recorded by the code before it (dffd781,
  // 95dc3a8) reach the copy without the marker of its companion, hot-snapshot-switch
  // (./copy-data.ts): migrations of that code may still run, and lose a snapshot.
  if (!patched('keep-after-loss')) {
    copies.forgetAll();
    kept = 'work read under it is redone';
  } else if (run.incremental) {
    copies.forgetPartialBlockTables();
    kept = 'the copies finished under it are kept (the change stream applies their changes from its position)';
  } else if (await sourceChangedSince(run, lease, copies.snapshots(), next)) {
    copies.forgetAll();
    kept = 'the source took writes since, so the copies finished under it are not kept';
  } else {
    kept = 'nothing was committed on the source since, so the copies finished under it are kept';
  }
  const redone = run.state.restartCopies((t, chunk) => copies.has(t, chunk), inFlight);
  run.warn(`the source snapshot ${lost} was lost (holder restarted): ${kept}; copied again: ${redone.tables} tables (${formatBytes(redone.bytes)})`);
  run.refreshDetails();
}

/**
 * While the copy runs: when the snapshot is lost and the holder exports a new one, tells the
 * copy to go on under it — copies running on live workers finish under the old one (they
 * imported it), those that could not start or died with a worker run under the new one — or,
 * when the target could not be made exact that way, to stop (the data phase then starts again
 * and keeps what it can: keepAfterLoss).
 */
export async function followSnapshots(
  run: MigrationRun,
  lease: SnapshotLease,
  copies: CopiedUnits,
  copy: ChildWorkflowHandle<typeof copyTablesWorkflow>,
  first: string,
  ended: () => boolean,
): Promise<void> {
  const used = [first];
  for (;;) {
    const current = used[used.length - 1];
    await condition(() => ended() || lease.holderGone || (lease.latestName !== undefined && lease.latestName !== current));
    if (ended()) return;
    const latest = lease.latestName;
    const next = latest !== undefined && latest !== current ? latest : undefined;
    const kept = next ? await whyGoOn(run, lease, copies, used, next) : undefined;
    if (ended()) return;
    if (!next || !kept) {
      await copy.signal(copySnapshotSignal, { stop: true });
      return;
    }
    run.warn(`the source snapshot ${current} was lost (holder restarted): ${kept}; the copy went on under ${next}, reading again only what was in flight on a dead worker`);
    run.refreshDetails();
    used.push(next);
    await copy.signal(copySnapshotSignal, { snapshot: next, keepRecordsFrom: used.slice(0, -1) });
  }
}

/** Why the copy may go on under `next` keeping what was read under `used` (undefined: it may not). */
async function whyGoOn(run: MigrationRun, lease: SnapshotLease, copies: CopiedUnits, used: string[], next: string): Promise<string | undefined> {
  if (run.incremental) {
    // A table split by blocks cannot have its chunks read under two snapshots.
    return copies.hasIncompleteBlockTables() ? undefined : 'what was read under it is kept (the change stream applies its changes from its position)';
  }
  return (await sourceChangedSince(run, lease, used, next)) ? undefined : 'nothing was committed on the source since, so what was read under it is kept';
}

/** Whether anything was committed on the source between any of `earlier` snapshots and `next` (unknown: yes). */
async function sourceChangedSince(run: MigrationRun, lease: SnapshotLease, earlier: string[], next: string): Promise<boolean> {
  const to = lease.get(next)?.xids;
  for (const name of earlier) {
    const from = lease.get(name)?.xids;
    if (!from || !to) return true;
    const { changed } = await acts.sourceChangedBetween({ source: run.spec.source, retry: run.spec.retry, from, to });
    if (changed) return true;
  }
  return false;
}
