/**
 * Online verification while the change stream runs: rounds asked by `pgferry verify` (the
 * `verify` Update) or scheduled by `incremental.verify.every`, one at a time, each one
 * activity (activities/verify/verify-round.ts). The migration keeps what they found for the
 * progress query, the Web UI, the report, and `cutover --require-verified`.
 *
 * Rounds run in a scope of their own that the cutover cancels: a round in flight then releases
 * the stream at once (its activity closes its connections; a hold expires by itself anyway).
 */
import { CancellationScope, condition, isCancellation, proxyActivities, sleep } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { Endpoints } from '../activities/deps';
import type { ObjectsSpec } from '../common/objects-spec';
import type { ReplicationNames } from '../common/replication-names';
import { isClean, type VerificationRecord, type VerificationView, type VerifyRequest } from '../common/verification';
import * as options from './activity-options';
import { rootMessage } from './failures';

/** A round that fails is not retried for long: the operator (or the next scheduled round) asks again. */
const { verifyRound } = proxyActivities<Activities>({ ...options.long, retry: { ...options.long.retry, maximumAttempts: 3 } });

export interface VerificationSettings extends Endpoints {
  migrationId: string;
  names: ReplicationNames;
  objects?: ObjectsSpec;
  conflicts?: 'error' | 'ignore';
  lanes: number;
  schedule?: { every: number; repair: boolean; chunkRows: number };
}

const DEFAULT_CHUNK_ROWS = 100_000;

export class Verification {
  readonly view: VerificationView = { rounds: 0, rowsVerified: 0, chunksDiffering: 0, chunksRepaired: 0 };
  private scope = new CancellationScope();
  private running = false;
  private stopped = false;
  /** Tables that were in the target before the migration (conflicts: ignore): they hold rows the source never had. */
  private preexisting: Array<{ schema: string; name: string }> = [];

  constructor(
    private readonly settings: VerificationSettings,
    private readonly refresh: () => void,
    /** A scheduled round is skipped while this is true (the paused stream cannot be held). */
    private readonly paused: () => boolean = () => false,
  ) {}

  /** Whether a round has ever been asked for (the report shows the figures then). */
  get used(): boolean {
    return this.view.rounds > 0 || this.view.lastFailure !== undefined;
  }

  /** One round, after the one running (if any). */
  async round(request: VerifyRequest): Promise<VerificationRecord> {
    await condition(() => !this.running || this.stopped);
    if (this.stopped) throw new Error('verification stopped: the migration is cutting over');
    this.running = true;
    const requestedAt = Date.now();
    const repair = request.repair === true;
    this.view.running = { since: requestedAt, repair };
    this.refresh();
    try {
      const { migrationId, names, objects, conflicts, lanes, source, target, retry } = this.settings;
      const chunkRows = request.chunkRows ?? this.settings.schedule?.chunkRows ?? DEFAULT_CHUNK_ROWS;
      const result = await this.scope.run(() =>
        verifyRound.executeWithOptions({ summary: `verify${repair ? ' and repair' : ''} while streaming` }, [
          { source, target, retry, migrationId, names, objects, conflicts, repair, chunkRows, lanes, ...(this.preexisting.length ? { skip: this.preexisting } : {}) },
        ]),
      );
      const record: VerificationRecord = { ...result, requestedAt, repair, clean: isClean(result) };
      this.view.rounds += 1;
      this.view.last = record;
      if (record.clean) this.view.lastCleanAt = requestedAt;
      this.view.rowsVerified += record.rows;
      this.view.chunksDiffering += record.differingChunks;
      this.view.chunksRepaired += record.repairedChunks;
      this.view.lastFailure = undefined;
      return record;
    } catch (err) {
      this.view.lastFailure = rootMessage(err);
      throw err;
    } finally {
      this.running = false;
      this.view.running = undefined;
      this.refresh();
    }
  }

  /** `incremental.verify.every`: a round every so many minutes until stopped. */
  async runSchedule(): Promise<void> {
    const schedule = this.settings.schedule;
    if (!schedule) return;
    try {
      await this.scope.run(async () => {
        for (;;) {
          await sleep(schedule.every * 60_000, { summary: `next verification round in ${schedule.every} min` });
          if (this.paused()) continue;
          await this.round({ repair: schedule.repair, chunkRows: schedule.chunkRows }).catch((err: unknown) => {
            if (isCancellation(err)) throw err;
          }); // its failure is in the view; the next round tries again
        }
      });
    } catch (err) {
      if (!isCancellation(err)) throw err;
    }
  }

  skipTables(tables: Array<{ schema: string; name: string }>): void {
    this.preexisting = tables.map(({ schema, name }) => ({ schema, name }));
  }

  /** Cutover: no more rounds; one in flight is cancelled. */
  stop(): void {
    this.stopped = true;
    this.scope.cancel();
  }

  /** A cutover that gave up (`cutover --timeout`): rounds may be asked again. */
  resume(): void {
    this.stopped = false;
    this.scope = new CancellationScope();
  }
}
