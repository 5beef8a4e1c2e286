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
 *
 * This file is the activity's lifetime and the loop that reads frames and dispatches on the
 * message kind. Its parts, a file each:
 *   - source-transaction.ts: Begin … Commit of the source transaction being received (skipped when applied already);
 *   - batch-window.ts: source transactions gathered into one target transaction, and when to commit it;
 *   - target-applier.ts: the target transactions, with the position row, one commit in flight while the next batch is read;
 *   - stream-ddl.ts: replicated DDL at its place in the stream (ddl-apply.ts runs it);
 *   - attempt-health.ts: the retry window, from the last time an attempt was healthy;
 *   - lag-beat.ts, stream-reports.ts, slot-feedback.ts: the lag heartbeat in the source's WAL, the
 *     reports to the workflow, the status updates to the source;
 *   - control-poller.ts, stream-pace.ts: pause, throttle.incremental and the cutover position, from the workflow;
 *   - stream-hold.ts: online verification's hold at an exact source position (NOTIFY on the target).
 */
import { Context } from '@temporalio/activity';
import type { Client } from 'pg';
import type { ReplicationNames } from '../../common/replication-names';
import { STREAM_STATS_SIGNAL, type OperationsConfig, type StreamStats } from '../../common/stream';
import { closeQuietly, openClient, openReplicationClient, WRITES_ON_READ_ONLY } from '../db';
import { resolveBoth, type ActivityDeps, type Endpoints } from '../deps';
import { guarded } from '../errors';
import { activityLifetime } from '../activity-lifetime';
import { owningWorkflow } from '../owning-workflow';
import { CUTOVER_MESSAGE_PREFIX } from '../replication/cutover';
import type { RowChange } from './change-batch';
import { FilteredChanges } from './row-filter';
import { projectChange, StreamMapping } from './stream-mapping';
import type { ApplyTable } from './target-table';
import type { ObjectsSpec } from '../../common/objects-spec';
import { FrameReader } from './frame-reader';
import { ReplicationStream } from './replication-stream';
import { formatLsn, parseLsn } from '../../common/lsn';
import { decodePgOutput } from './pgoutput-decoder';
import { messageBytes, type PrimaryKeepalive, type LogicalMessage, type XLogData } from './pgoutput-types';
import { RelationCache } from './relation-cache';
import { StreamMeter } from './stream-meter';
import { StreamMetrics } from '../metrics';
import { HEARTBEAT_PREFIX } from './lag-clock';
import { readPosition } from './stream-position';
import type { SyncPlan } from '../../common/sync-plan';
import { SyncGates } from './sync-gates';
import { DdlApplier } from './ddl-apply';
import { AttemptHealth, type HealthDetails } from './attempt-health';
import { BatchWindow, MAX_BATCH_AGE_MS } from './batch-window';
import { CONTROL_POLL_MS, ControlPoller } from './control-poller';
import { LagBeat, sourceBeats } from './lag-beat';
import { SlotFeedback } from './slot-feedback';
import { SourceTransaction } from './source-transaction';
import { StreamDdl } from './stream-ddl';
import { StreamPace } from './stream-pace';
import { StreamReports } from './stream-reports';
import { streamClosed, TargetApplier } from './target-applier';
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
  /**
   * The way back: the replication origin the applied transactions carry, so that pgferry's own
   * writes on the source are told apart from the applications' (a logical consumer there can
   * leave them out, and nothing loops). Absent: none.
   */
  applyOrigin?: string;
}

export interface StreamChangesResult {
  appliedLsn: string;
  stopped: boolean;
}

/** How often the activity heartbeats (its details show positions and lag in the Web UI). */
const HEARTBEAT_MS = 1_000;
/** While a verifier waits for a hold at a position, how often the source is asked for one (keepalive reply, heartbeat). */
const HOLD_NUDGE_MS = 200;
/** How often the NOTIFY listener for holds is checked (and reconnected). */
const HOLD_LISTENER_MS = 1_000;
/** How often the loop looks at its periodic work (heartbeat, hold listener, reports). */
const CHORES_MS = 50;

export function makeStreamChanges(deps: ActivityDeps) {
  return async function streamChanges(input: StreamChangesInput): Promise<StreamChangesResult> {
    const { source, target, secrets } = resolveBoth(deps, input);
    const ctx = Context.current();
    const clients: Client[] = [];
    let holdListener: HoldListener | undefined;
    const meter = new StreamMeter();
    const reports = new StreamReports(() => meter.takeStats(), signalStats);
    const streaming = `stream changes from ${source.label}`;
    let doing = streaming;
    // Retry windows count from the last time the stream was healthy, not from its first start
    // days ago (kept across attempts in the heartbeat: attempt-health.ts).
    const health = new AttemptHealth(ctx.info.heartbeatDetails as HealthDetails | undefined, ctx.info.scheduledTimestampMs);
    // Shown on the pending activity's card in the Web UI.
    const beatDetails = () => ({ ...meter.heartbeat(), ...health.details() });
    const metrics = new StreamMetrics();
    const endLifetime = activityLifetime({
      heartbeatMs: HEARTBEAT_MS,
      details: beatDetails,
      onBeat: () => metrics.observeHeartbeat(meter.heartbeat()),
      closeOnCancel: () => clients,
    });
    const noteFailure = (err: unknown) => {
      health.failed(meter.received);
      ctx.heartbeat(beatDetails()); // the next attempt reads it
      throw err;
    };
    try {
      return await guarded({ doing: () => doing, secrets, retry: input.retry, failingSince: () => health.failingSince() }, async () => streamBody().catch(noteFailure));
    } finally {
      endLifetime();
      metrics.observeHeartbeat(meter.heartbeat()); // what was applied since the last beat
      await reports.report().catch(() => undefined);
      for (const c of clients) await closeQuietly(c);
      await holdListener?.close();
    }

    async function streamBody(): Promise<StreamChangesResult> {
      const stopped = (): StreamChangesResult => ({ appliedLsn: formatLsn(meter.applied), stopped: true });
      // The way back applies to a source that the cutover made read-only for applications.
      const tgt = await openClient(target, 'apply', WRITES_ON_READ_ONLY);
      clients.push(tgt);
      if (input.applyOrigin) await useOrigin(tgt, input.applyOrigin);
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
      if (control.stopReached(meter.applied)) return stopped();

      const src = await openClient(source, 'stream-catalog');
      clients.push(src);
      const mapping = await StreamMapping.load(src, input.objects, input.conflicts ?? 'error');
      const relations = new RelationCache(src, tgt, input.operations, mapping);
      // Changes of tables with a row filter wait here to be judged, a table at a time, before a batch is applied.
      const filtered = new FilteredChanges();
      const gates = new SyncGates(input.syncPlan);
      const ddl = input.ddlMessagePrefix ? new StreamDdl(new DdlApplier(src, tgt, mapping), input.ddlMessagePrefix, relations) : undefined;
      // The replication connection: open while streaming, closed while paused (openSlot, releaseSlot).
      let slot: { client: Client; stream: ReplicationStream; reader: FrameReader } | undefined;
      wakeReader = () => slot?.reader.nudge();
      const feedback = new SlotFeedback((frame) => slot?.stream.write(frame), meter);
      const transaction = new SourceTransaction();
      const batchWindow = new BatchWindow();
      const applier = new TargetApplier(tgt, input.migrationId, meter.applied, (busy) => {
        doing = busy ? `apply source changes up to ${formatLsn(meter.received)} to target ${target.label}` : streaming;
      });
      const pace = new StreamPace();
      pace.obey(control.limit);
      const lag = new LagBeat(sourceBeats(src), meter);
      await lag.first();
      reports.startClock();

      const intoBatch = (table: ApplyTable, change: RowChange) => batchWindow.batch.add(table, table.source?.keep ? projectChange(change, table.source.keep) : change);
      const judgeFiltered = () => filtered.flush(src, intoBatch);
      /** Between transactions with nothing received that is not yet committed on the target. */
      const nothingPending = () => !transaction.open && batchWindow.batch.isEmpty && filtered.size === 0 && !applier.busy;

      /** A Begin that a hold stopped in front of: read again once the hold ends. */
      let stashed: ReturnType<FrameReader['take']>;
      let lastHoldNudge = 0;
      let lastListenerCheck = Date.now();
      let choresDue = 0;

      for (;;) {
        if (ctx.cancellationSignal.aborted) throw new Error('cancelled'); // reported as the cancellation
        if (applier.settled) await applier.settle(); // a failed apply fails the stream here
        if (control.due(Date.now())) {
          await control.poll();
          pace.obey(control.limit);
        }
        const idle = nothingPending();
        if (idle && control.stopReached(meter.applied)) return stopped();
        if (control.paused && !transaction.open) {
          // Between source transactions: what was received is committed, then nothing more is
          // read (waiting for the stream to be idle would not pause it until a backlog ran out).
          if (!idle) await commitReceived();
          await whilePaused();
          continue;
        }
        slot ??= await openSlot();
        if (hold.active() && (await holdStep())) {
          await chores(Date.now());
          continue;
        }
        // First the Begin a hold stopped in front of, if there is one; then a frame already
        // received (no promise per frame: at tens of thousands of frames a second, each promise
        // and its async-context bookkeeping was a good part of the worker's CPU).
        const frame = stashed ?? waitingFrame() ?? (await nextFrame());
        stashed = undefined;
        const now = Date.now();
        if (frame?.kind === 'keepalive') {
          onKeepalive(frame, now);
        } else if (frame?.kind === 'xlogdata') {
          const message = decodePgOutput(frame.data, true, frame.at, frame.end); // rows kept as bytes: raw-row-change.ts
          switch (message.tag) {
            case 'begin':
              if (hold.blocks(message.finalLsn)) {
                stashed = frame; // committed at or past the hold's position: not yet
                break;
              }
              if (transaction.begin(message.finalLsn, meter.applied)) meter.receivedTransaction(message.finalLsn, message.commitTimeMicros);
              break;
            case 'commit': {
              if (message.endLsn > meter.received) meter.received = message.endLsn;
              const applied = transaction.commit();
              ddl?.endTransaction();
              if (applied) batchWindow.transactionEnded(message.endLsn, now);
              break;
            }
            case 'relation':
              doing = `stream changes of ${message.schema}.${message.name} from ${source.label}`;
              await relations.learn(message);
              gates.learn(message);
              doing = streaming;
              break;
            case 'insert':
            case 'update':
            case 'delete':
              if (!transaction.skipping) {
                const change = gates.admit(message, transaction.finalLsn); // none: the copy holds it already
                if (change) addChange(relations.table(message.relationId), change);
                const bytes = messageBytes(frame);
                batchWindow.received(bytes);
                pace.take(bytes);
              }
              break;
            case 'truncate':
              await onTruncate(transaction.skipping ? [] : gates.admitTruncate(message.relationIds, transaction.finalLsn), message.restartIdentity, frame);
              break;
            case 'message':
              if (await onLogicalMessage(message)) return stopped();
              break;
            default:
              break; // type and origin messages carry nothing to apply
          }
        }
        const step = batchWindow.next(now, { inTransaction: transaction.open, waiting: filtered.size, commitNow: ddl?.commitNow ?? false });
        if (step === 'commit') await commit(batchWindow.endLsn);
        else if (step === 'apply-piece') await applyPiece(); // a big source transaction: applied in pieces, committed at its end
        feedback.sendIfDue(now);
        if (now >= choresDue) await chores(now);
      }

      /** The loop's periodic work (each part has its own period, of a second or more), looked at every CHORES_MS. */
      async function chores(now: number): Promise<void> {
        choresDue = now + CHORES_MS;
        await lag.beatIfDue(now);
        await checkListenerIfDue(now);
        await reports.reportIfDue(now);
      }

      /**
       * A verifier's hold, between source transactions: commit what came before its position and
       * answer, then read nothing while it lasts (stream-hold.ts). True: the loop goes round again.
       */
      async function holdStep(): Promise<boolean> {
        const ready = !transaction.open ? hold.readyToHold() : undefined;
        if (ready) {
          if (ready.position !== undefined) await commit(ready.position, true);
          else await commitReceived();
          const ack = hold.held(meter.applied);
          if (ack) await holdListener!.answer(ack);
          return true;
        }
        if (hold.holding()) {
          feedback.sendIfDue(Date.now());
          await slot!.reader.wait(50); // a release nudges it
          return true;
        }
        if (hold.awaitingPosition() && Date.now() - lastHoldNudge >= HOLD_NUDGE_MS) {
          lastHoldNudge = Date.now();
          feedback.send(true); // the source answers with a keepalive: how far it has decoded
          await lag.beat(); // and a heartbeat message past the position comes through the stream
        }
        return false;
      }

      /** The hold listener's connection, reconnected when it broke (a verifier waits meanwhile). */
      async function checkListenerIfDue(now: number): Promise<void> {
        if (now - lastListenerCheck < HOLD_LISTENER_MS) return;
        lastListenerCheck = now;
        await holdListener!.ensure().catch(() => undefined);
      }

      /** A frame received and not yet read, if reading may go on (not over the throttle's limit). */
      function waitingFrame(): ReturnType<FrameReader['take']> {
        return pace.waitMs() > 0 ? undefined : slot!.reader.take();
      }

      /** When no frame is waiting: the next one, waiting at most until the batch is due (none while over the throttle's limit). */
      async function nextFrame(): Promise<ReturnType<FrameReader['take']>> {
        const throttled = pace.waitMs();
        if (throttled > 0) {
          // Over the limit: read nothing for a moment (commits and status updates go on).
          await sleep(Math.min(throttled, MAX_BATCH_AGE_MS));
          return undefined;
        }
        await slot!.reader.wait(batchWindow.readWaitMs(Date.now(), CONTROL_POLL_MS));
        return slot!.reader.take();
      }

      /** Streams the slot from the applied position (the source skips what it has confirmed), on a new replication connection. */
      async function openSlot(): Promise<NonNullable<typeof slot>> {
        doing = `start streaming slot ${input.slot} from ${source.label}`;
        const client = await openReplicationClient(source, 'stream');
        clients.push(client);
        const stream = client.query(
          new ReplicationStream(
            `START_REPLICATION SLOT ${input.slot} LOGICAL ${formatLsn(meter.applied)} (proto_version '1', publication_names '${input.publications.map((p) => `"${p}"`).join(',')}', messages 'true')`,
          ),
        );
        doing = streaming;
        return { client, stream, reader: new FrameReader(stream) };
      }

      /**
       * Paused: the replication connection closes, so the source's walsender stops decoding (as
       * native replication's DISABLE). Left open, it would go on decoding into the socket
       * buffers (tens of MB here) while the operator thinks the source is left alone.
       */
      async function releaseSlot(): Promise<void> {
        feedback.send(); // the last applied position, before the walsender goes
        const { client } = slot!;
        clients.splice(clients.indexOf(client), 1);
        slot = undefined;
        stashed = undefined; // a Begin a hold stopped in front of: the source sends it again
        await closeQuietly(client);
      }

      /** Commits every complete source transaction received and waits for it: nothing is left pending. */
      async function commitReceived(): Promise<void> {
        if (batchWindow.holdsTransactions) await commit(batchWindow.endLsn, true);
        else await applier.settle();
      }

      /** Paused between transactions: nothing read and no walsender (the slot keeps the backlog); the lag and reports go on. */
      async function whilePaused(): Promise<void> {
        if (slot) await releaseSlot();
        await lag.beatIfDue(Date.now()); // the lag grows while paused if the source writes meanwhile
        await reports.reportIfDue(Date.now()); // the operator sees it grow
        await sleep(control.untilDue(Date.now())); // then the loop asks the workflow whether to resume
      }

      /**
       * The keepalive's position is how far the source has decoded: every transaction that
       * committed before it has been sent. With nothing pending, all of it is applied or not
       * ours, so the slot may move there and stop holding WAL.
       */
      function onKeepalive(frame: PrimaryKeepalive, now: number): void {
        hold.saw(frame.walEnd);
        if (nothingPending()) {
          if (frame.walEnd > meter.confirmed) {
            meter.confirmIdle(frame.walEnd);
            health.movedIdle(meter.confirmed, now);
            feedback.send(); // at once: the slot lets go of that WAL sooner
          } else {
            health.caughtUp(meter.confirmed, now); // caught up on a quiet source for a while: this attempt is fine
          }
        }
        if (frame.replyRequested) feedback.send();
      }

      function addChange(table: ApplyTable, change: RowChange): void {
        const filter = table.source?.filter;
        if (filter && table.operations.has(change.tag)) filtered.add(table, filter, change);
        else intoBatch(table, change);
      }

      /** A truncate is a barrier: what came before it goes first. */
      async function onTruncate(relationIds: number[], restartIdentity: boolean, frame: XLogData): Promise<void> {
        if (!relationIds.length) return;
        await judgeFiltered();
        batchWindow.batch.truncate(
          relationIds.map((id) => relations.table(id)),
          restartIdentity,
        );
        pace.take(messageBytes(frame));
      }

      /** A logical message: a DDL command, the cutover marker, or the lag heartbeat read back. True: the stream stops here. */
      async function onLogicalMessage(message: LogicalMessage): Promise<boolean> {
        if (ddl?.captured(message)) {
          if (!transaction.skipping) await applyDdl(ddl, message);
        } else if (message.prefix === CUTOVER_MESSAGE_PREFIX && message.content.toString() === input.migrationId) {
          // Everything committed before the marker has arrived: apply it, then see whether
          // this is the marker the workflow stops at (it learns the position a moment later).
          await commit(message.lsn > batchWindow.endLsn ? message.lsn : batchWindow.endLsn, true);
          batchWindow.endLsn = meter.applied;
          return control.awaitStopAt(meter.applied);
        } else if (message.prefix === HEARTBEAT_PREFIX && !message.transactional && !transaction.open) {
          // A heartbeat read back: every transaction before it has arrived, so the position
          // passes it with the batch waiting (or at once), and the lag knows it is caught up.
          hold.saw(message.lsn);
          if (nothingPending()) meter.confirmIdle(message.lsn);
          else batchWindow.passHeartbeat(message.lsn);
        }
        return false;
      }

      /** A DDL command, at its place: what came before it is applied first, then the statement, in the same target transaction. */
      async function applyDdl(ddl: StreamDdl, message: LogicalMessage): Promise<void> {
        await applyPiece();
        doing = `apply DDL at ${formatLsn(message.lsn)} to target ${target.label}`;
        await ddl.apply(message);
        doing = streaming;
      }

      /** Applies the rest of a source transaction too big for one batch, inside the open target transaction. */
      async function applyPiece(): Promise<void> {
        await judgeFiltered();
        await applier.settle();
        await applier.apply(batchWindow.batch);
        batchWindow.pieceApplied();
      }

      /** Commits everything applied so far together with the position it reaches (`wait`: until it is committed). */
      async function commit(position: bigint, wait = false): Promise<void> {
        await judgeFiltered();
        if (applier.hasCommitted(batchWindow.batch, position)) {
          if (wait) await applier.settle();
          return;
        }
        await applier.settle();
        const { batch, transactions } = batchWindow.take();
        const ddlDone = ddl?.takeForCommit() ?? [];
        applier.commit(batch, position, (counts) => {
          reports.ddlCommitted(ddlDone);
          meter.recordApplied(position, counts, transactions);
          health.committed();
          feedback.send();
        });
        if (wait) await applier.settle();
      }
    }
  };
}

/** Marks the session's transactions as coming from `origin` (made by prepareWayBack; skipped when it could not be). */
async function useOrigin(client: Client, origin: string): Promise<void> {
  const { rowCount } = await client.query('SELECT 1 FROM pg_catalog.pg_replication_origin WHERE roname = $1', [origin]);
  if (rowCount) await client.query('SELECT pg_catalog.pg_replication_origin_session_setup($1)', [origin]);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function signalStats(stats: StreamStats): Promise<boolean> {
  const { workflowId, runId } = owningWorkflow();
  try {
    await Context.current().client.workflow.getHandle(workflowId, runId).signal(STREAM_STATS_SIGNAL, stats);
    return true;
  } catch {
    // The workflow may be between runs (continue-as-new); the next report carries on.
    return false;
  }
}
