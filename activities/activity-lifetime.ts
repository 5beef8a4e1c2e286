/**
 * What a long activity sets up before its work and takes down after it: a heartbeat timer
 * (Temporal learns the worker is alive, and a cancellation reaches the activity only in a
 * heartbeat's reply) and a cancellation listener that stops the work at once, since a query,
 * COPY or child process in flight never looks at the cancellation signal: closing its
 * connections makes the awaited call fail, killing its tools makes them exit.
 */
import { Context } from '@temporalio/activity';
import type { Client } from 'pg';
import { closeQuietly } from './db';

export interface ActivityLifetimeOptions {
  heartbeatMs: number;
  /** The heartbeat's details, read at each beat (what a retry finds in `heartbeatDetails`). */
  details?: () => unknown;
  /** Something else to do at each beat, after the heartbeat (a rate-limited progress signal). */
  onBeat?: () => void;
  /** Connections closed on cancellation, read then (they are usually opened later). */
  closeOnCancel?: () => Iterable<Client | undefined>;
  /** Anything else to stop on cancellation (child processes). */
  onCancel?: () => void;
}

/** Starts the heartbeat and listens for cancellation; the returned function stops both. */
export function activityLifetime(opts: ActivityLifetimeOptions): () => void {
  const ctx = Context.current();
  const cancel = () => {
    for (const client of opts.closeOnCancel?.() ?? []) void closeQuietly(client);
    opts.onCancel?.();
  };
  ctx.cancellationSignal.addEventListener('abort', cancel);
  const beat = setInterval(() => {
    ctx.heartbeat(opts.details?.());
    opts.onBeat?.();
  }, opts.heartbeatMs);
  return () => {
    clearInterval(beat);
    ctx.cancellationSignal.removeEventListener('abort', cancel);
  };
}
