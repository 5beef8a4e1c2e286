/** Text for the way back (common/way-back.ts): what the cutover prepared, and how rollback or finish went. */
import { displayName } from '../common/plan';
import type { FinishResult, RollbackResult, WayBackOutcome, WayBackReady } from '../common/way-back';

export function renderWayBackReady(r: WayBackReady): string {
  return [
    `Way back ready: target writes from LSN ${r.lsn} on stream back to the source (slot ${r.slot} and publication ${r.publication} on the target, ${r.tables} tables${r.origin ? `, source writes marked with replication origin ${r.slot}` : ''}).`,
    'The migration stays open in phase fallback-ready: `pgferry rollback <id>` sends the applications back to the source, `pgferry finish <id>` gives the way back up.',
  ].join('\n');
}

export function renderRollback(r: RollbackResult, clientMs?: number): string {
  const v = r.validation;
  return [
    `Rolled back at target LSN ${r.lsn}: the source is the primary again${r.sourceUnlocked ? ' and writable' : ''}.`,
    `Downtime ${(r.downtimeMs / 1000).toFixed(2)} s (from the rollback request to the source ready${clientMs !== undefined ? `; ${(clientMs / 1000).toFixed(2)} s as this command saw it` : ''}).`,
    `Replayed ${r.changesApplied} target changes in ${r.transactionsApplied} transactions since cutover; ${r.sequences} sequences set on the source.`,
    `Validation (${v.mode}, source against target): ${v.tablesChecked} tables, ${v.mismatches.length} mismatches` +
      (v.mismatches.length ? `: ${v.mismatches.slice(0, 5).map((m) => `${displayName(m)} (source ${m.expectedRows} rows, target ${m.actualRows})`).join('; ')}` : ''),
    `Dropped: ${r.dropped.join(', ') || 'nothing left'}.`,
    ...(r.targetLocked ? ['The target stays read-only; to undo: ALTER DATABASE <db> RESET default_transaction_read_only;'] : []),
  ].join('\n');
}

export function renderFinish(r: FinishResult): string {
  return [`Way back given up after replaying ${r.changesApplied} target changes on the source.`, `Dropped: ${r.dropped.join(', ') || 'nothing left'}.`].join('\n');
}

export function renderWayBackOutcome(o: WayBackOutcome): string {
  if (o.outcome === 'not-prepared') return `No way back: ${o.why}`;
  return o.outcome === 'rolled-back' ? renderRollback(o) : renderFinish(o);
}
