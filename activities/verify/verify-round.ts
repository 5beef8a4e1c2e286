/**
 * One round of online verification while the change stream runs (`pgferry verify`): every
 * migrated table compared between source and target as of one source position L, in key-range
 * chunks, with the stream paused only for a moment.
 *
 *   1. Hold the stream where it is (pre-hold: it starts no further transaction), so that it
 *      cannot pass the position about to be taken.
 *   2. Take L and a source snapshot exactly at L: a temporary slot's exported snapshot
 *      (consistent-point.ts; nothing is left on the source, even after a crash).
 *   3. Move the hold to L: the stream applies what committed before L, commits its position L
 *      and holds (stream-hold.ts).
 *   4. Take a target snapshot, check inside it that the stream's position row says exactly L
 *      (proof that the snapshot holds everything before L and nothing after, whatever the
 *      stream did meanwhile), export it, release the stream.
 *   5. Hash every chunk on both sides under the two snapshots, in parallel sessions.
 *
 * With `repair`, the chunks that differed are looked at again at a second position L2, with
 * the stream held there by a lock: the verifier's target transaction locks the stream's
 * position row (every apply transaction locks it first), checks it says L2, and releases the
 * hold; the stream then waits on the row. A chunk that differs again (twice: divergence, not
 * lag) has its target rows replaced by the source's at L2 in that transaction, which commits;
 * the stream goes on from L2, so no change is applied twice or missed.
 *
 * Idempotent: a retried attempt starts a new round; a round changes the target only in the
 * repair transaction, which is exact whenever it commits.
 */
import { randomBytes } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import type { Client } from 'pg';
import type { ObjectsSpec } from '../../common/objects-spec';
import { displayName, tableKey } from '../../common/plan';
import type { ReplicationNames } from '../../common/replication-names';
import type { ChunkRange } from '../../common/table-split';
import type { ChunkDifference, VerificationRound } from '../../common/verification';
import { FailureType } from '../../common/failure-types';
import { activityLifetime } from '../activity-lifetime';
import { makeListTables } from '../copy/list-tables';
import { closeQuietly, openClient } from '../db';
import { resolveBoth, type ActivityDeps, type Endpoints } from '../deps';
import { guarded } from '../errors';
import { MARKER_SCHEMA } from '../schema/step-marker';
import { beginUnderSnapshot } from '../snapshot-transaction';
import { SCAN_SETTINGS } from '../validate/validate-tables';
import type { ResolvedConnection } from '../credentials';
import { chunkChecksums, differingKeys, replaceChunk, rowsOf } from './chunk-compare';
import { printInZone, sourceTimeZone } from '../validate/text-forms';
import { takeConsistentPoint, type ConsistentPoint } from './consistent-point';
import { HoldRequester } from './hold-requester';
import { chunkLabel, planVerifyTable, type VerifyTable } from './verify-plan';

export interface VerifyRoundInput extends Endpoints {
  migrationId: string;
  names: ReplicationNames;
  objects?: ObjectsSpec;
  conflicts?: 'error' | 'ignore';
  repair: boolean;
  chunkRows: number;
  /** Chunks hashed at once (sessions on each side). */
  lanes: number;
  /** Tables that were in the target before the migration (conflicts: ignore): not comparable. */
  skip?: Array<{ schema: string; name: string }>;
}

/** Tries to hold the stream at a fresh position before giving up. */
const HOLD_TRIES = 5;
/** The stream answers a hold within this (it looks at the request between transactions). */
const ANSWER_MS = 15_000;
/** A hold ends by itself after this, whatever happens to the verifier. */
const PRE_HOLD_MAX_MS = 20_000;
const HOLD_MAX_MS = 10_000;
/** Differing chunks listed in the result (the count covers all). */
const LISTED = 50;

interface Held {
  point: ConsistentPoint;
  /** The target transaction that holds the state at L (a snapshot, or the position row's lock). */
  target: Client;
  targetSnapshot?: string;
  preHoldMs: number;
  pauseMs: number;
  attempts: number;
}

export function makeVerifyRound(deps: ActivityDeps) {
  const listTables = makeListTables(deps);
  return async function verifyRound(input: VerifyRoundInput): Promise<VerificationRound> {
    const { source, target, secrets } = resolveBoth(deps, input);
    const clients: Client[] = [];
    let requester: HoldRequester | undefined;
    const progress = { stage: 'hold the stream', table: '', chunksDone: 0, chunks: 0 };
    // On cancellation (a cutover begins) the hold is released first, so the stream goes on at once.
    const endLifetime = activityLifetime({ heartbeatMs: 1_000, details: () => ({ ...progress }), closeOnCancel: () => clients, onCancel: () => void requester?.close() });
    const track = <C extends Client>(c: C): C => {
      clients.push(c);
      return c;
    };
    try {
      return await guarded({ doing: () => `verify ${progress.table || 'tables'} (${progress.stage}) between ${source.label} and ${target.label}`, secrets, retry: input.retry }, async () => {
        const started = Date.now();
        requester = await HoldRequester.open(target, input.migrationId);
        const first = await holdAt(source, target, input, requester, track, 'snapshot');
        // The target's state at L is in the exported snapshot: the stream goes on.
        progress.stage = 'list tables';
        // Every table is in the target by now: "preexisting" means in it before the migration, which the workflow knows.
        const skip = new Set((input.skip ?? []).map(tableKey));
        const refs = (await listTables({ source: input.source, target: input.target, retry: input.retry, snapshot: first.point.snapshot, objects: input.objects, conflicts: input.conflicts }))
          .filter((t) => !skip.has(tableKey(t)))
          .map(({ preexisting: _p, ...t }) => t);
        const planner = track(await openClient(source, 'verify'));
        await beginUnderSnapshot(planner, first.point.snapshot);
        const plannerTarget = track(await openClient(target, 'verify'));
        await beginUnderSnapshot(plannerTarget, first.targetSnapshot!);
        const zone = await sourceTimeZone(planner); // the target's sessions print in it (text-forms.ts)
        await printInZone(plannerTarget, zone);
        progress.stage = 'plan chunks';
        const tables: VerifyTable[] = [];
        for (const ref of refs) {
          progress.table = displayName(ref);
          tables.push(await planVerifyTable(planner, plannerTarget, ref, input.chunkRows));
        }
        const work = tables.flatMap((t) => t.chunks.map((chunk) => ({ t, chunk })));
        progress.chunks = work.length;
        progress.stage = 'compare chunks';

        let rows = 0;
        const differing: Array<ChunkDifference & { t: VerifyTable; range: ChunkRange }> = [];
        const lanes = await Promise.all(
          Array.from({ length: Math.max(1, Math.min(input.lanes, work.length)) }, async () => {
            const src = track(await openClient(source, 'verify', SCAN_SETTINGS));
            const tgt = track(await openClient(target, 'verify', SCAN_SETTINGS));
            await beginUnderSnapshot(src, first.point.snapshot);
            await beginUnderSnapshot(tgt, first.targetSnapshot!);
            await printInZone(tgt, zone);
            return { src, tgt };
          }),
        );
        let next = 0;
        await Promise.all(
          lanes.map(async ({ src, tgt }) => {
            while (next < work.length) {
              const { t, chunk } = work[next++];
              progress.table = displayName(t.source);
              const sums = await chunkChecksums(src, tgt, t, chunk);
              rows += rowsOf(sums.source);
              if (sums.source !== sums.target) {
                const keys = await differingKeys(src, tgt, t, chunk);
                differing.push({
                  schema: t.source.schema,
                  name: t.source.name,
                  chunk: chunkLabel(t, chunk),
                  sourceRows: rowsOf(sums.source),
                  targetRows: rowsOf(sums.target),
                  ...(t.key ? { keysDiffering: keys.count, ...(keys.first !== undefined ? { firstKey: keys.first } : {}) } : {}),
                  t,
                  range: chunk,
                });
              }
              progress.chunksDone += 1;
            }
          }),
        );
        await first.point.connection.end().catch(() => undefined); // the temporary slot goes with it

        const round: VerificationRound = {
          lsn: first.point.lsn,
          startedAt: new Date(started).toISOString(),
          ms: 0,
          tables: tables.length,
          rows,
          chunks: work.length,
          pauseMs: first.pauseMs,
          preHoldMs: first.preHoldMs,
          attempts: first.attempts,
          differing: [],
          differingChunks: differing.length,
          repairedChunks: 0,
        };
        if (input.repair && differing.length) {
          // A second position: look again, and replace what still differs.
          progress.stage = 'repair';
          const second = await holdAt(source, target, input, requester, track, 'lock');
          const src = track(await openClient(source, 'verify repair'));
          await beginUnderSnapshot(src, second.point.snapshot);
          const tgt = second.target;
          await tgt.query('SET LOCAL session_replication_role = replica');
          await printInZone(tgt, zone);
          for (const d of differing) {
            progress.table = displayName(d.t.source);
            const again = await chunkChecksums(src, tgt, d.t, d.range);
            if (again.source === again.target) {
              d.equalOnRecheck = true;
              continue;
            }
            await replaceChunk(src, tgt, d.t, d.range);
            const after = await chunkChecksums(src, tgt, d.t, d.range);
            if (after.source !== after.target) throw new Error(`${displayName(d.t.target)} ${d.chunk} still differs after its rows were copied again: the target table's definition differs from the source's`);
            d.repaired = true;
            round.repairedChunks += 1;
          }
          await tgt.query('COMMIT');
          round.repairLsn = second.point.lsn;
          round.repairPauseMs = Date.now() - second.heldSince!;
          await second.point.connection.end().catch(() => undefined);
        }
        round.differing = differing.slice(0, LISTED).map(({ t: _t, range: _r, ...d }) => d);
        round.ms = Date.now() - started;
        return round;
      });
    } finally {
      endLifetime();
      await requester?.close();
      for (const c of clients) await closeQuietly(c);
    }
  };
}

/**
 * Holds the stream at a fresh position L and returns the target's state at L: a transaction
 * with an exported snapshot (`snapshot`, and the stream is released at once), or one that holds
 * the position row's lock (`lock`: the stream waits on it until that transaction ends).
 */
async function holdAt(
  source: ResolvedConnection,
  target: ResolvedConnection,
  input: VerifyRoundInput,
  requester: HoldRequester,
  track: (c: Client) => Client,
  mode: 'snapshot' | 'lock',
): Promise<Held & { heldSince?: number }> {
  let lastProblem = '';
  for (let attempt = 1; attempt <= HOLD_TRIES; attempt += 1) {
    const round = randomBytes(4).toString('hex');
    const pre = await requester.hold(`${round}-pre`, undefined, PRE_HOLD_MAX_MS, ANSWER_MS);
    if (!pre) {
      lastProblem = `the stream did not answer a hold request within ${ANSWER_MS / 1000} s (is it running, and not paused?)`;
      continue;
    }
    const preHeldAt = Date.now();
    const point = await takeConsistentPoint(source, `${input.names.slotPrefix}v${round}`);
    track(point.connection);
    const askedAt = Date.now();
    const at = await requester.hold(`${round}-at`, point.lsn, HOLD_MAX_MS, ANSWER_MS);
    if (!at || at.position !== point.lsn) {
      await requester.release();
      await closeQuietly(point.connection);
      lastProblem = at ? `the stream was at ${at.position}, past ${point.lsn}` : `the stream did not reach ${point.lsn} within ${ANSWER_MS / 1000} s`;
      continue;
    }
    const heldSince = Date.now();
    const tgt = track(await openClient(target, 'verify'));
    let applied: string | undefined;
    let snapshot: string | undefined;
    if (mode === 'snapshot') {
      await tgt.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      applied = (await tgt.query<{ lsn: string }>(`SELECT applied_lsn::text AS lsn FROM ${MARKER_SCHEMA}.stream WHERE workflow_id = $1`, [input.migrationId])).rows[0]?.lsn;
      snapshot = (await tgt.query<{ name: string }>('SELECT pg_catalog.pg_export_snapshot() AS name')).rows[0].name;
    } else {
      await tgt.query('BEGIN');
      applied = (await tgt.query<{ lsn: string }>(`SELECT applied_lsn::text AS lsn FROM ${MARKER_SCHEMA}.stream WHERE workflow_id = $1 FOR UPDATE`, [input.migrationId])).rows[0]?.lsn;
    }
    await requester.release();
    const pauseMs = Date.now() - heldSince;
    if (applied !== point.lsn) {
      // The stream moved on (its hold expired, it restarted): this snapshot is not at L.
      await closeQuietly(tgt);
      await closeQuietly(point.connection);
      lastProblem = applied === undefined ? 'the stream has no position on the target (closed?)' : `the target was at ${applied}, not ${point.lsn}, when its snapshot was taken`;
      if (applied === undefined) break;
      continue;
    }
    return { point, target: tgt, ...(snapshot ? { targetSnapshot: snapshot } : {}), preHoldMs: askedAt - preHeldAt, pauseMs, attempts: attempt, heldSince };
  }
  throw ApplicationFailure.nonRetryable(`could not hold the change stream at a fresh source position in ${HOLD_TRIES} tries: ${lastProblem}`, FailureType.VerificationFailed);
}
