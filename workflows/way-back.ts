/**
 * The way back after cutover (spec `incremental.wayBack`, common/way-back.ts), as a step of
 * the migration:
 *
 *   cutover: prepare (publication and slot on the target where the source stopped)
 *   → fallback-ready: stream target → source (the source stays read-only for applications)
 *   → `pgferry rollback`: lock the target, drain, sequences, compare, unlock the source
 *     or `pgferry finish`: end the reverse stream
 *   → drop the slot, the publication and the origin (also when the migration fails or is cancelled).
 *
 * The reverse stream is the forward one's child workflow with the endpoints swapped: the same
 * exactly-once apply, position row (on the source) and fence.
 */
import { ApplicationFailure, CancellationScope, condition, isCancellation, startChild } from '@temporalio/workflow';
import { describeConnection } from '../common/connection';
import { FailureType } from '../common/failure-types';
import type { TableRef } from '../common/plan';
import type { Operation } from '../common/spec';
import { wayBackNames, type FinishResult, type RollbackResult, type WayBackNames, type WayBackOutcome, type WayBackReady } from '../common/way-back';
import { rootMessage } from './failures';
import { stopAtSignal } from './messages';
import { acts, dropWayBack } from './migration-activities';
import type { MigrationRun } from './migration-run';
import { streamChangesWorkflow, watchStream, type RunningStream } from './stream-changes';
import { compareTables, validationFailure } from './validation';

/** The reverse stream replays everything (a way back needs the forward stream to have carried everything too). */
const EVERY_OPERATION: Operation[] = ['insert', 'update', 'delete', 'truncate'];

/** How long `finish` lets the reverse stream reach its end marker before cancelling it. */
const FINISH_DRAIN_MS = 30_000;

type Ask<T> = { requestedAt: number; result?: T; failure?: string };

/** An Update's answer: once the migration has done (or failed) what was asked. */
async function answer<T>(what: string, ask: Ask<T>): Promise<T> {
  await condition(() => ask.result !== undefined || ask.failure !== undefined);
  if (ask.failure) throw ApplicationFailure.nonRetryable(`${what} failed: ${ask.failure}`, FailureType.WayBackFailed);
  return ask.result!;
}

export class WayBack {
  readonly names: WayBackNames | undefined;
  private ready?: WayBackReady;
  private tables: TableRef[] = [];
  private rollbackAsked?: Ask<RollbackResult>;
  private finishAsked?: Ask<FinishResult>;
  private released = false;
  private started = false;

  constructor(private readonly run: MigrationRun) {
    this.names = run.names && run.spec.incremental.wayBack ? wayBackNames(run.names) : undefined;
  }

  /** The Updates' validator: refuses before anything is written to history. */
  validate(what: 'rollback' | 'finish'): void {
    const { phase } = this.run.state;
    if (!this.names) throw new Error(`this migration has no way back (incremental.wayBack is off): there is nothing to ${what}`);
    if (this.rollbackAsked || this.finishAsked) throw new Error(`${this.rollbackAsked ? 'rollback' : 'finish'} was already requested`);
    if (phase !== 'fallback-ready') throw new Error(`the migration is in phase ${phase}; ${what} is possible after cutover, in phase fallback-ready`);
  }

  /** `pgferry rollback`: returns once the source is the primary again (or the rollback failed). */
  async rollback(): Promise<RollbackResult> {
    return answer('rollback', (this.rollbackAsked = { requestedAt: Date.now() }));
  }

  /** `pgferry finish`: returns once the way back is given up and dropped. */
  async finish(): Promise<FinishResult> {
    return answer('finish', (this.finishAsked = { requestedAt: Date.now() }));
  }

  /**
   * At cutover, once the target equals the source and before it is declared ready: the
   * target's publication and slot, the source's position row and origin. A way back that
   * cannot be prepared does not fail the cutover: the reason is returned and reported.
   */
  async prepare(tables: TableRef[], sourceLockedAt: string | undefined): Promise<WayBackReady | { notPrepared: string }> {
    const { run, names } = this;
    if (!names) return { notPrepared: 'incremental.wayBack is off' };
    this.started = true;
    this.tables = tables.filter((t) => !t.preexisting);
    try {
      this.ready = await acts.prepareWayBack({
        ...run.endpoints,
        migrationId: run.id,
        names,
        tables: this.tables.map((t) => t.target ?? { schema: t.schema, name: t.name }),
        ...(sourceLockedAt ? { sourceLockedAt } : {}),
      });
      return this.ready;
    } catch (err) {
      const why = rootMessage(err);
      await this.release().catch(() => undefined);
      run.warn(`no way back: ${why}`);
      return { notPrepared: why };
    }
  }

  /** After cutover: phase fallback-ready, the reverse stream running, until rollback or finish. */
  async offer(): Promise<WayBackOutcome | undefined> {
    const { run } = this;
    const ready = this.ready;
    if (!ready) return undefined;
    run.enter('fallback-ready');
    const scope = new CancellationScope();
    const stream = await scope.run(() => this.startReverseStream(ready));
    await condition(() => this.rollbackAsked !== undefined || this.finishAsked !== undefined || stream.ended);
    if (stream.failure) throw stream.failure;
    if (this.rollbackAsked) return this.rollBack(ready, stream, this.rollbackAsked);
    return this.giveUp(ready, scope, stream, this.finishAsked!);
  }

  /** Something may be on the target or the source to drop. */
  get prepared(): boolean {
    return this.started && !this.released;
  }

  /** Drops what the way back made on both sides (the migration's end, however it ends). */
  async release(): Promise<string[]> {
    const { run, names } = this;
    if (!names) return [];
    this.released = true;
    await acts.closeStream({ target: run.spec.source, retry: run.spec.retry, migrationId: run.id }).catch(() => undefined);
    const { dropped } = await dropWayBack({ ...run.endpoints, migrationId: run.id, names });
    return dropped;
  }

  private async rollBack(ready: WayBackReady, stream: RunningStream, ask: Ask<RollbackResult>): Promise<WayBackOutcome> {
    const { run } = this;
    const { spec, id } = run;
    run.enter('rollback');
    let targetLockedAt: string | undefined;
    try {
      // The applications stop writing on the target; every write they made is in its WAL before the marker.
      targetLockedAt = (await acts.lockSource({ source: spec.target, retry: spec.retry })).lockedAt;
      const marker = await acts.emitCutoverMarker({ source: spec.target, retry: spec.retry, migrationId: id });
      await stream.handle.signal(stopAtSignal, { lsn: marker.lsn });
      const streamed = await stream.result;
      await acts.closeStream({ target: spec.source, retry: spec.retry, migrationId: id });
      const { sequences } = await acts.copySequences({ source: spec.target, target: spec.source, retry: spec.retry });
      const validation = await compareTables(run, this.tables);
      if (validation.mismatches.length) throw validationFailure(validation.mismatches);
      if (ready.sourceLockedAt) await acts.unlockSource({ source: spec.source, retry: spec.retry, lockedAt: ready.sourceLockedAt });
      const downtimeMs = Date.now() - ask.requestedAt;
      const dropped = await this.release();
      const result: RollbackResult = {
        lsn: marker.lsn,
        downtimeMs,
        changesApplied: streamed.progress.totalChanges,
        transactionsApplied: streamed.progress.transactions,
        sequences,
        validation,
        sourceUnlocked: ready.sourceLockedAt !== undefined,
        targetLocked: true,
        dropped,
      };
      ask.result = result;
      return { outcome: 'rolled-back', ready, ...result };
    } catch (err) {
      // The applications stay where they are: the target is writable again.
      if (targetLockedAt) await acts.unlockSource({ source: spec.target, retry: spec.retry, lockedAt: targetLockedAt }).catch(() => undefined);
      ask.failure = `${rootMessage(err)}; the target is writable again and the source is as it was (read-only if the cutover locked it): the applications stay on the target, and the way back is dropped`;
      throw err;
    }
  }

  /**
   * Ends the reverse stream at a marker written now on the target (a clean stop, with its
   * totals), or cancels it when it does not get there in FINISH_DRAIN_MS (it may be far behind
   * or broken: the way back is given up either way), then drops what the way back made.
   */
  private async giveUp(ready: WayBackReady, scope: CancellationScope, stream: RunningStream, ask: Ask<FinishResult>): Promise<WayBackOutcome> {
    const { run } = this;
    try {
      if (!stream.ended) {
        const marker = await acts.emitCutoverMarker({ source: run.spec.target, retry: run.spec.retry, migrationId: run.id });
        await stream.handle.signal(stopAtSignal, { lsn: marker.lsn });
        if (!(await condition(() => stream.ended, FINISH_DRAIN_MS))) scope.cancel();
      }
      const streamed = await stream.result.catch((err) => {
        if (isCancellation(err)) return undefined;
        throw err;
      });
      const result: FinishResult = { changesApplied: streamed?.progress.totalChanges ?? 0, dropped: await this.release() };
      ask.result = result;
      return { outcome: 'finished', ready, ...result };
    } catch (err) {
      ask.failure = rootMessage(err);
      throw err;
    }
  }

  /** The forward stream's child workflow, endpoints swapped: target → source. */
  private async startReverseStream(ready: WayBackReady): Promise<RunningStream> {
    const { run } = this;
    const { spec, id } = run;
    const handle = await startChild(streamChangesWorkflow, {
      workflowId: `${id}/stream-back`,
      staticSummary: `way back: stream changes ${describeConnection(spec.target)} → ${describeConnection(spec.source)}`.slice(0, 200),
      args: [
        {
          source: spec.target,
          target: spec.source,
          retry: spec.retry,
          migrationId: id,
          names: this.names!,
          publications: [ready.publication],
          slot: ready.slot,
          operations: { operations: EVERY_OPERATION, tables: {} },
          historyBudget: spec.incremental.historyBudget,
          reportTo: id,
          ...(ready.origin ? { applyOrigin: this.names!.origin } : {}),
        },
      ],
    });
    run.state.streamWorkflowId = handle.workflowId;
    run.refreshDetails();
    return watchStream(handle);
  }
}
