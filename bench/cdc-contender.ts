/**
 * What the change-capture benchmark needs from a contender (pgferry, native logical
 * replication): start replicating into a fresh target, name the slot to watch, pause and resume
 * the apply, and cut over. Everything else (load, lag, catch-up) is measured the same way for all.
 */
import type { PgCluster } from '../launch/postgres';

export interface CdcContext {
  source: PgCluster;
  target: PgCluster;
  db: string;
  temporalAddress?: string;
  /** The Temporal server's process, for the CPU split. */
  temporalPid?: number;
}

export interface CutoverOutcome {
  /** The contender's own downtime figure (pgferry's downtimeMs; for native, the same as wall). */
  downtimeMs: number;
  /** From the end of the writes to the target being ready, as the benchmark saw it. */
  wallMs: number;
  detail?: string;
}

export interface CdcContender {
  name: string;
  /** Fresh target database, initial copy, and the stream running. */
  setup(ctx: CdcContext): Promise<void>;
  /** The source slot whose confirmed_flush_lsn shows what the contender has applied. */
  slot(): string;
  /** The contender's own lag in seconds, if it reports one. */
  ownLag?(): Promise<number | undefined>;
  /** Stop applying; changes wait in the slot. Resolves once the apply has stopped. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Called the moment the writes stop: apply the rest and make the target the primary. */
  cutover(writesStoppedAt: number): Promise<CutoverOutcome>;
  /** The process that applies the changes outside PostgreSQL, if any (pgferry's worker). */
  workerPid?(): number | undefined;
  /** Resets the worker's memory high-water mark (before the drain), and reads it. */
  resetPeakRss?(): void;
  peakRssBytes?(): number;
  /** Releases everything on source and target, whatever state the contender is in. */
  teardown(): Promise<void>;
}
