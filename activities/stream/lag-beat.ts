/**
 * The stream's lag, measured from the source: once a second a heartbeat is written into the
 * source's WAL (source-heartbeat.ts) and the stream meter learns its position and the source's
 * clock (lag-clock.ts dates the backlog by it). A source that refuses heartbeats (a role that
 * may not, a server in recovery) has its end of WAL read instead, and is not asked again.
 */
import type { Client } from 'pg';
import { readSourceEnd, writeHeartbeat, type HeartbeatWritten } from './source-heartbeat';
import type { StreamMeter } from './stream-meter';

/** How often a heartbeat is written into the source's WAL (and its end of WAL read), for the lag. */
export const SOURCE_BEAT_MS = 1_000;

export interface SourceBeats {
  write(): Promise<HeartbeatWritten | undefined>;
  readEnd(): Promise<bigint>;
}

/** The heartbeat queries on a source connection. */
export function sourceBeats(source: Client): SourceBeats {
  return { write: () => writeHeartbeat(source), readEnd: () => readSourceEnd(source) };
}

export class LagBeat {
  private heartbeats = true;
  private lastAt: number;

  constructor(
    private readonly source: SourceBeats,
    private readonly meter: Pick<StreamMeter, 'wroteHeartbeat' | 'sawSourceEnd'>,
    now = Date.now(),
  ) {
    this.lastAt = now;
  }

  /** The first beat, before anything is read: it dates the backlog already in the slot. */
  async first(): Promise<void> {
    await this.beat();
    this.lastAt = Date.now();
  }

  /** Writes a heartbeat now (or reads the source's end of WAL). */
  async beat(): Promise<void> {
    const written = this.heartbeats ? await this.source.write() : undefined;
    if (written) this.meter.wroteHeartbeat(written.lsn, written.sourceNowMs, written.at);
    else this.meter.sawSourceEnd(await this.source.readEnd());
    this.heartbeats = written !== undefined;
  }

  /** Beats when a second has passed since the last beat of this loop. */
  async beatIfDue(now: number): Promise<void> {
    if (now - this.lastAt < SOURCE_BEAT_MS) return;
    this.lastAt = now;
    await this.beat();
  }
}
