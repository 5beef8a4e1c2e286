/**
 * The change stream: one long-running, heartbeating activity that reads the migration's
 * replication slot (pgoutput over the streaming replication protocol) and applies the changes
 * to the target in source commit order, many source transactions per target transaction.
 *
 * Exactly once, by construction:
 *   - each target transaction also moves the migration's position row (stream-position.ts),
 *     so the target knows exactly what it has applied;
 *   - the source is told a position is flushed only after that transaction committed, so a
 *     crash never loses changes the target does not have;
 *   - a resumed stream skips every transaction older than the target's position, so nothing is
 *     applied twice (and the apply itself is an upsert/delete by key, so even a replay converges).
 *
 * It stops when its workflow asks it to stop at the cutover marker's position and everything
 * up to there is applied, or when cancelled (continue-as-new, worker shutdown, migration cancel).
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Client } from 'pg';
import { both } from 'pg-copy-streams';
import type { ReplicationNames } from '../../common/replication-names';
import type { RateLimit } from '../../common/throttle';
import { CountTotals, STREAM_CONTROL_QUERY, STREAM_STATS_SIGNAL, type OperationsConfig, type StreamControl, type StreamStats } from '../../common/stream';
import { FailureType } from '../../common/failure-types';
import { closeQuietly, openClient, openReplicationClient } from '../db';
import { resolveBoth, type ActivityDeps, type Endpoints } from '../deps';
import { guarded } from '../errors';
import { activityLifetime } from '../activity-lifetime';
import { owningWorkflow } from '../owning-workflow';
import { CUTOVER_MESSAGE_PREFIX } from '../replication/cutover';
import { ChangeBatch, type RowChange } from './change-batch';
import { FilteredChanges } from './row-filter';
import { projectChange, StreamMapping } from './stream-mapping';
import type { ApplyTable } from './target-table';
import type { ObjectsSpec } from '../../common/objects-spec';
import { FrameReader } from './frame-reader';
import { formatLsn, parseLsn } from '../../common/lsn';
import { decodePgOutput } from './pgoutput-decoder';
import type { PgOutputMessage } from './pgoutput-types';
import { RelationCache } from './relation-cache';
import { standbyStatusUpdate } from './replication-frames';
import { StreamMeter } from './stream-meter';
import { StreamMetrics } from '../metrics';
import { readSourceEnd, writeHeartbeat } from './source-heartbeat';
import { HEARTBEAT_PREFIX } from './lag-clock';
import { lockPosition, readPosition, savePosition } from './stream-position';
import { RateGate } from '../rate/rate-gate';
import type { SyncPlan } from '../../common/sync-plan';
import { SyncGates } from './sync-gates';
import type { DdlMessage, DdlRecord } from '../../common/ddl';
import { DdlApplier } from './ddl-apply';
import type { LogicalMessage } from './pgoutput-types';
import { HoldListener, StreamHold } from './stream-hold';

export interface StreamChangesInput extends Endpoints {
  migrationId: string;
  names: ReplicationNames;
  /** The publications to stream (see createPublication). */
  publications: string[];
  slot: string;
  operations: OperationsConfig;
  /** The spec's objects section: which tables, columns and rows, under which target names. */
  objects?: ObjectsSpec;
  conflicts?: 'error' | 'ignore';
  /** Tables copied under different snapshots: where each one's changes start (absent: all at the slot's start). */
  syncPlan?: SyncPlan;
  /** incremental.ddl: replicate — the prefix of the DDL capture's messages (absent: DDL is not replicated). */
  ddlMessagePrefix?: string;
}

export interface StreamChangesResult {
  appliedLsn: string;
  stopped: boolean;
}

/** A batch is applied once it holds this many changes, or this many bytes of them... */
const MAX_BATCH_CHANGES = 20_000;
const MAX_BATCH_BYTES = 64 * 1024 * 1024;
/** ...or its oldest change waited this long (keeps lag well under a second). */
const MAX_BATCH_AGE_MS = 100;
const HEARTBEAT_MS = 1_000;
const STATS_SIGNAL_MS = 5_000;
/** How often the workflow is asked whether to pause or stop (a cutover marker asks at once). */
const CONTROL_POLL_MS = 1_000;
/** The source drops a silent stream after wal_sender_timeout (60 s by default). */
const STATUS_UPDATE_MS = 5_000;
/** While a verifier waits for a hold at a position, how often the source is asked for one (keepalive reply, heartbeat). */
const HOLD_NUDGE_MS = 200;
/** How often a heartbeat is written into the source's WAL (and its end of WAL read), for the lag. */
const SOURCE_LSN_MS = 1_000;
/**
 * A retry that fails again replays its failing change within moments of connecting; an attempt
 * that stayed caught up this long is healthy, and a later failure starts a new retry window.
 */
const IDLE_HEALTHY_AFTER_MS = 15_000;

export function makeStreamChanges(deps: ActivityDeps) {
  return async function streamChanges(input: StreamChangesInput): Promise<StreamChangesResult> {
    const { source, target, secrets } = resolveBoth(deps, input);
    const ctx = Context.current();
    const clients: Client[] = [];
    let holdListener: HoldListener | undefined;
    const meter = new StreamMeter();
    // DDL applied and committed on the target, not yet reported to the workflow.
    const ddlCommitted: DdlRecord[] = [];
    const takeStats = (): StreamStats => (ddlCommitted.length ? { ...meter.takeStats(), ddl: ddlCommitted.splice(0) } : meter.takeStats());
    /** Reports to the workflow; DDL records that did not reach it go with the next report. */
    const report = async () => {
      const stats = takeStats();
      if (!(await signalStats(stats)) && stats.ddl) ddlCommitted.unshift(...stats.ddl);
    };
    let doing = `stream changes from ${source.label}`;
    // Retry windows count from the last time the stream was healthy, not from its first start
    // days ago (kept across attempts in the heartbeat).
    const details = ctx.info.heartbeatDetails as { healthyAt?: number | string; failedAt?: string } | undefined;
    let healthyAt = readTime(details?.healthyAt);
    // Where the last attempt failed: a retry that is idle before it gets there again (the
    // source resends the failing change) is not healthy, however long that takes.
    let failedAt = details?.failedAt ? parseLsn(details.failedAt) : undefined;
    const pastFailure = () => failedAt === undefined || meter.confirmed >= failedAt;
    const failingSince = () => Math.max(healthyAt, ctx.info.scheduledTimestampMs);
    const attemptStartedAt = Date.now();
    // Shown on the pending activity's card in the Web UI: times as ISO text, not epoch ms.
    const beatDetails = () => ({ ...meter.heartbeat(), ...(healthyAt ? { healthyAt: new Date(healthyAt).toISOString() } : {}), ...(failedAt !== undefined ? { failedAt: formatLsn(failedAt) } : {}) });
    const metrics = new StreamMetrics();
    const endLifetime = activityLifetime({
      heartbeatMs: HEARTBEAT_MS,
      details: beatDetails,
      onBeat: () => metrics.observeHeartbeat(meter.heartbeat()),
      closeOnCancel: () => clients,
    });
    const noteFailure = (err: unknown) => {
      if (failedAt === undefined || meter.received > failedAt) failedAt = meter.received;
      ctx.heartbeat(beatDetails()); // the next attempt reads it
      throw err;
    };
    try {
      return await guarded({ doing: () => doing, secrets, retry: input.retry, failingSince }, async () => streamBody().catch(noteFailure));
    } finally {
      endLifetime();
      metrics.observeHeartbeat(meter.heartbeat()); // what was applied since the last beat
      await report().catch(() => undefined);
      for (const c of clients) await closeQuietly(c);
      await holdListener?.close();
    }

    async function streamBody(): Promise<StreamChangesResult> {
      const tgt = await openClient(target, 'apply');
      clients.push(tgt);
      const start = await readPosition(tgt, input.migrationId);
      if (!start || start.closed) throw streamClosed();
      const control = new ControlPoller();
      // Online verification asks the stream to hold at a position (stream-hold.ts), over NOTIFY on the target.
      const hold = new StreamHold();
      let wakeReader = () => {};
      holdListener = new HoldListener(target, input.migrationId, (payload) => {
        if (hold.receive(payload)) wakeReader();
      });
      await holdListener.ensure().catch(() => undefined); // retried below; verification waits meanwhile
      meter.start(parseLsn(start.appliedLsn));
      await control.poll();
      if (control.stopReached(meter.applied)) return { appliedLsn: formatLsn(meter.applied), stopped: true };

      const src = await openClient(source, 'stream-catalog');
      clients.push(src);
      const mapping = await StreamMapping.load(src, input.objects, input.conflicts ?? 'error');
      const relations = new RelationCache(src, tgt, input.operations, mapping);
      // Changes of tables with a row filter wait here to be judged, a table at a time, before a batch is applied.
      const filtered = new FilteredChanges();
      const gates = new SyncGates(input.syncPlan);
      const ddl = input.ddlMessagePrefix ? new DdlApplier(src, tgt, mapping) : undefined;
      /** DDL applied in the open target transaction (reported once it commits). */
      let ddlPending: DdlRecord[] = [];
      /** A source transaction with DDL ends its target transaction: what follows meets the committed shape. */
      let commitNow = false;
      const repl = await openReplicationClient(source, 'stream');
      clients.push(repl);
      const stream = repl.query(
        both(
          `START_REPLICATION SLOT ${input.slot} LOGICAL ${formatLsn(meter.applied)} (proto_version '1', publication_names '${input.publications.map((p) => `"${p}"`).join(',')}', messages 'true')`,
          // One CopyData frame per chunk; object mode keeps reads from joining buffered frames.
          { alignOnCopyDataFrame: true, readableObjectMode: true, readableHighWaterMark: 256 },
        ),
      );
      const reader = new FrameReader(stream);
      wakeReader = () => reader.nudge();
      const sendStatus = (replyRequested = false) => {
        stream.write(standbyStatusUpdate({ written: meter.received, flushed: meter.confirmed, applied: meter.confirmed, replyRequested }));
        meter.statusSentAt = Date.now();
      };

      let batch = new ChangeBatch();
      let batchStartedAt = 0;
      let batchEndLsn = 0n;
      let batchTransactions = 0;
      let batchBytes = 0;
      let skipping = false;
      let inTransaction = false;
      let finalLsn = 0n; // of the transaction being received

      // The open target transaction. A source transaction bigger than a batch is applied in
      // pieces inside it (memory stays bounded) and committed with its position at its end.
      let targetTxOpen = false;
      const pendingCounts = new CountTotals();
      const begin = async () => {
        await tgt.query('BEGIN');
        targetTxOpen = true;
        const fence = await lockPosition(tgt, input.migrationId);
        if (!fence || fence.closed) throw streamClosed();
        // Like PostgreSQL's own apply worker: no FK checks or user triggers for replicated rows.
        await tgt.query('SET LOCAL session_replication_role = replica');
      };
      const applyBatch = async (b: ChangeBatch) => {
        if (!targetTxOpen) await begin();
        if (b.isEmpty) return;
        doing = `apply source changes up to ${formatLsn(meter.received)} to target ${target.label}`;
        await b.apply(tgt);
        pendingCounts.add(b.counts());
        doing = `stream changes from ${source.label}`;
      };

      // Pipelining: while one batch's target transaction runs, the next batch is read and
      // netted, so the source's decoding, the worker and the target work at the same time.
      // One transaction at a time on the target, committed in source order.
      let inflight: Promise<void> | undefined;
      let inflightSettled = false;
      let queuedPosition = meter.applied;
      const settle = async () => {
        const running = inflight;
        inflight = undefined;
        if (running) await running;
      };
      const intoBatch = (table: ApplyTable, change: RowChange) => batch.add(table, table.source?.keep ? projectChange(change, table.source.keep) : change);
      const addChange = (table: ApplyTable, change: RowChange) => {
        const filter = table.source?.filter;
        if (filter && table.operations.has(change.tag)) filtered.add(table, filter, change);
        else intoBatch(table, change);
      };
      const judgeFiltered = () => filtered.flush(src, intoBatch);

      /** Applies the rest of a source transaction too big for one batch, inside the open target transaction. */
      const applyPending = async () => {
        await judgeFiltered();
        await settle();
        await applyBatch(batch);
        batch.clear();
        batchBytes = 0;
      };
      /** Commits everything applied so far together with the position it reaches. */
      const commit = async (position: bigint, wait = false) => {
        await judgeFiltered();
        if (!targetTxOpen && batch.isEmpty && position <= queuedPosition) {
          if (wait) await settle();
          return;
        }
        await settle();
        queuedPosition = position;
        const b = batch;
        const transactions = batchTransactions;
        const ddlDone = ddlPending;
        ddlPending = [];
        commitNow = false;
        batch = new ChangeBatch();
        batchTransactions = 0;
        batchStartedAt = 0;
        batchBytes = 0;
        const run = (async () => {
          await applyBatch(b);
          await savePosition(tgt, input.migrationId, formatLsn(position));
          await tgt.query('COMMIT');
          targetTxOpen = false;
          ddlCommitted.push(...ddlDone);
          meter.recordApplied(position, pendingCounts.take(), transactions);
          healthyAt = Date.now();
          sendStatus();
        })();
        inflightSettled = false;
        run.then(
          () => (inflightSettled = true),
          () => (inflightSettled = true), // the failure surfaces through settle()
        );
        inflight = run;
        if (wait) await settle();
      };

      /** A DDL command, at its place: what came before it is applied first, then the statement, in the same target transaction. */
      const applyDdl = async (message: LogicalMessage) => {
        await applyPending();
        doing = `apply DDL at ${formatLsn(message.lsn)} to target ${target.label}`;
        ddlPending.push(await ddl!.apply(JSON.parse(message.content.toString('utf8')) as DdlMessage, formatLsn(message.lsn)));
        relations.markStale();
        commitNow = true;
        doing = `stream changes from ${source.label}`;
      };

      /** Between transactions with nothing received that is not yet committed on the target. */
      const nothingPending = () => !inTransaction && batch.isEmpty && filtered.size === 0 && !targetTxOpen && !inflight;

      // throttle.incremental: a change is one row change (or truncate) received, its bytes the
      // pgoutput message's; over the limit, reading waits (the backlog stays in the slot).
      // The limits change only when the control is polled (every second): the gate learns them
      // then, not on every change.
      const gate = new RateGate();
      const obeyLimits = () => gate.obey({ paused: false, limit: control.limit });
      obeyLimits();
      let throttledUntil = 0;
      const pace = (bytes: number) => {
        const wait = gate.take(1, bytes);
        if (wait > 0) throttledUntil = Date.now() + wait;
      };

      // The source's end of WAL and a heartbeat the lag is measured by (once a second).
      let heartbeats = true;
      const beatOnSource = async () => {
        const beat = heartbeats ? await writeHeartbeat(src) : undefined;
        if (beat) meter.wroteHeartbeat(beat.lsn, beat.sourceNowMs, beat.at);
        else meter.sawSourceEnd(await readSourceEnd(src));
        heartbeats = beat !== undefined;
      };
      await beatOnSource(); // before anything is read: it dates the backlog already in the slot

      /** A Begin that a hold stopped in front of: read again once the hold ends. */
      let stashed: ReturnType<typeof reader.take>;
      let lastHoldNudge = 0;
      /**
       * The hold, between source transactions: commit what came before its position and answer,
       * then read nothing while it lasts. True when the loop should go round again.
       */
      const holdStep = async (): Promise<boolean> => {
        if (!hold.active()) return false;
        const ready = !inTransaction ? hold.readyToHold() : undefined;
        if (ready) {
          if (ready.position !== undefined) await commit(ready.position, true);
          else if (batchStartedAt) await commit(batchEndLsn, true);
          else await settle();
          const ack = hold.held(meter.applied);
          if (ack) await holdListener!.answer(ack);
          return true;
        }
        if (hold.holding()) {
          if (Date.now() - meter.statusSentAt >= STATUS_UPDATE_MS) sendStatus();
          await reader.wait(50); // a release nudges it
          return true;
        }
        if (hold.awaitingPosition() && Date.now() - lastHoldNudge >= HOLD_NUDGE_MS) {
          lastHoldNudge = Date.now();
          sendStatus(true); // the source answers with a keepalive: how far it has decoded
          await beatOnSource(); // and a heartbeat message past the position comes through the stream
        }
        return false;
      };

      let lastStats = Date.now();
      let lastSourceLsnAt = Date.now();
      for (;;) {
        if (ctx.cancellationSignal.aborted) throw new Error('cancelled'); // reported as the cancellation
        if (inflight && inflightSettled) await settle(); // a failed apply fails the stream here
        if (control.due(Date.now())) {
          await control.poll();
          obeyLimits();
        }
        const idle = nothingPending();
        if (idle && control.stopReached(meter.applied)) return { appliedLsn: formatLsn(meter.applied), stopped: true };
        // Paused between transactions: read nothing (the slot keeps the backlog), but keep the
        // source from timing the stream out.
        if (idle && control.paused) {
          if (Date.now() - meter.statusSentAt >= STATUS_UPDATE_MS) sendStatus();
          await beatOnSource(); // the lag grows while paused if the source writes meanwhile
          if (Date.now() - lastStats >= STATS_SIGNAL_MS) {
            lastStats = Date.now();
            await report(); // the operator sees it grow
          }
          await new Promise((r) => setTimeout(r, CONTROL_POLL_MS));
          continue;
        }
        if (await holdStep()) {
          if (Date.now() - lastSourceLsnAt >= SOURCE_LSN_MS) {
            lastSourceLsnAt = Date.now();
            await beatOnSource();
            await holdListener.ensure().catch(() => undefined);
          }
          continue;
        }
        // First the Begin a hold stopped in front of, if there is one.
        let frame: ReturnType<typeof reader.take> = stashed;
        stashed = undefined;
        if (frame) {
          // read again below
        } else if (Date.now() < throttledUntil) {
          // Over the limit: read nothing for a moment (commits and status updates go on below).
          await new Promise((r) => setTimeout(r, Math.min(throttledUntil - Date.now(), MAX_BATCH_AGE_MS)));
        } else {
          frame = reader.take(); // no promise per frame while frames are waiting
          if (!frame) {
            await reader.wait(batchStartedAt ? Math.max(1, MAX_BATCH_AGE_MS - (Date.now() - batchStartedAt)) : CONTROL_POLL_MS);
            frame = reader.take();
          }
        }
        const now = Date.now();
        if (frame?.kind === 'keepalive') {
          // The keepalive's position is how far the source has decoded: every transaction that
          // committed before it has been sent. With nothing pending, all of it is applied or
          // not ours, so the slot may move there and stop holding WAL.
          if (nothingPending()) {
            if (frame.walEnd > meter.confirmed) {
              meter.confirmIdle(frame.walEnd);
              if (pastFailure()) healthyAt = now;
              sendStatus(); // at once: the slot lets go of that WAL sooner
            } else if (now - attemptStartedAt > IDLE_HEALTHY_AFTER_MS && pastFailure()) {
              healthyAt = now; // caught up on a quiet source for a while: this attempt is fine
            }
          }
          hold.saw(frame.walEnd);
          if (frame.replyRequested) sendStatus();
        } else if (frame?.kind === 'xlogdata') {
          if (frame.walStart > meter.received) meter.received = frame.walStart;
          const message: PgOutputMessage = decodePgOutput(frame.payload);
          switch (message.tag) {
            case 'begin':
              if (hold.blocks(message.finalLsn)) {
                stashed = frame; // committed at or past the hold's position: not yet
                break;
              }
              inTransaction = true;
              // Committed before the target's position: applied already (by an earlier attempt).
              skipping = message.finalLsn < meter.applied;
              finalLsn = message.finalLsn;
              if (!skipping) meter.receivedTransaction(message.finalLsn, message.commitTimeMicros);
              break;
            case 'commit':
              inTransaction = false;
              ddl?.endTransaction();
              if (!skipping) {
                batchEndLsn = message.endLsn;
                batchTransactions += 1;
                if (!batchStartedAt) batchStartedAt = now;
              }
              skipping = false;
              break;
            case 'relation':
              doing = `stream changes of ${message.schema}.${message.name} from ${source.label}`;
              await relations.learn(message);
              gates.learn(message);
              doing = `stream changes from ${source.label}`;
              break;
            case 'insert':
            case 'update':
            case 'delete':
              if (!skipping) {
                const change = gates.admit(message, finalLsn); // none: the copy holds it already
                if (change) addChange(relations.table(message.relationId), change);
                batchBytes += frame.payload.length;
                pace(frame.payload.length);
              }
              break;
            case 'truncate':
              const truncated = skipping ? [] : gates.admitTruncate(message.relationIds, finalLsn);
              if (truncated.length) {
                await judgeFiltered(); // a truncate is a barrier: what came before goes first
                batch.truncate(truncated.map((id) => relations.table(id)), message.restartIdentity);
                pace(frame.payload.length);
              }
              break;
            case 'message':
              if (ddl && message.prefix === input.ddlMessagePrefix) {
                if (!skipping) await applyDdl(message);
              } else if (message.prefix === CUTOVER_MESSAGE_PREFIX && message.content.toString() === input.migrationId) {
                // Everything committed before the marker has arrived: apply it, then see whether
                // this is the marker the workflow stops at (it learns the position a moment later).
                await commit(message.lsn > batchEndLsn ? message.lsn : batchEndLsn, true);
                batchEndLsn = meter.applied;
                if (await control.awaitStopAt(meter.applied)) return { appliedLsn: formatLsn(meter.applied), stopped: true };
              } else if (message.prefix === HEARTBEAT_PREFIX && !message.transactional && !inTransaction) {
                // A heartbeat read back: every transaction before it has arrived, so the position
                // passes it with the batch waiting (or at once), and the lag knows it is caught up.
                hold.saw(message.lsn);
                if (nothingPending()) meter.confirmIdle(message.lsn);
                else if (batchStartedAt && message.lsn > batchEndLsn) batchEndLsn = message.lsn;
              }
              break;
            default:
              break; // type and origin messages carry nothing to apply
          }
        }
        const full = batch.size + filtered.size >= MAX_BATCH_CHANGES || batchBytes >= MAX_BATCH_BYTES;
        if (!inTransaction && batchStartedAt && (full || commitNow || now - batchStartedAt >= MAX_BATCH_AGE_MS)) {
          await commit(batchEndLsn);
        } else if (full) {
          await applyPending(); // a big source transaction: apply it in pieces, commit at its end
        }
        if (now - meter.statusSentAt >= STATUS_UPDATE_MS) sendStatus();
        if (now - lastSourceLsnAt >= SOURCE_LSN_MS) {
          lastSourceLsnAt = now;
          await beatOnSource();
          await holdListener.ensure().catch(() => undefined);
        }
        if (now - lastStats >= STATS_SIGNAL_MS) {
          lastStats = now;
          await report();
        }
      }
    }
  };
}

/** A time from an earlier attempt's heartbeat: ISO text (epoch ms before this was readable). */
function readTime(value: number | string | undefined): number {
  if (typeof value === 'number') return value;
  const ms = value ? Date.parse(value) : NaN;
  return Number.isFinite(ms) ? ms : 0;
}

function streamClosed(): ApplicationFailure {
  return ApplicationFailure.nonRetryable('the stream is closed: the migration was cut over (or finished), so nothing may be applied to the target any more', FailureType.StreamClosed);
}

async function signalStats(stats: StreamStats | undefined): Promise<boolean> {
  if (!stats) return true;
  const { workflowId, runId } = owningWorkflow();
  try {
    await Context.current().client.workflow.getHandle(workflowId, runId).signal(STREAM_STATS_SIGNAL, stats);
    return true;
  } catch {
    // The workflow may be between runs (continue-as-new); the next report carries on.
    return false;
  }
}

/** Asks the owning workflow (by query: no history events) whether and where to stop. */
class ControlPoller {
  private lastPoll = 0;
  private control: StreamControl = {};

  due(now: number): boolean {
    return now - this.lastPoll >= CONTROL_POLL_MS;
  }

  async poll(): Promise<StreamControl> {
    this.lastPoll = Date.now();
    const { workflowId, runId } = owningWorkflow();
    this.control = await Context.current().client.workflow.getHandle(workflowId, runId).query<StreamControl>(STREAM_CONTROL_QUERY);
    return this.control;
  }

  get paused(): boolean {
    return this.control.paused === true;
  }

  get limit(): RateLimit {
    return this.control.limit ?? {};
  }

  /** From the last poll: the cutover position is set and applied. */
  stopReached(applied: bigint): boolean {
    return this.control.stopAtLsn !== undefined && applied >= parseLsn(this.control.stopAtLsn);
  }

  /** After a cutover marker: the workflow learns its position a moment after writing it. */
  async awaitStopAt(applied: bigint, waitMs = 3_000): Promise<boolean> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const { stopAtLsn } = await this.poll();
      if (stopAtLsn !== undefined) return applied >= parseLsn(stopAtLsn);
      if (Date.now() > deadline) return false; // a marker of an earlier, abandoned cutover
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
