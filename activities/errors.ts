/**
 * Error hygiene at the activity boundary. Failure messages are stored in Temporal history in
 * plain text, so they are scrubbed of secrets and of row data (PostgreSQL's DETAIL field can
 * hold a failing row), and classified so that the retry windows of the spec can apply:
 * connection trouble is retried for `retry.connectionMinutes`, anything else for
 * `retry.otherMinutes`, and mistakes no retry can fix (wrong password) fail at once.
 */
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { FailureType } from '../common/failure-types';

export type ErrorKind = 'connection' | 'auth' | 'config' | 'snapshot-lost' | 'other';


const CONNECTION_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND',
]);

interface PgLikeError {
  code?: string;
  message?: string;
}

export function classifyError(err: unknown): ErrorKind {
  const e = (err ?? {}) as PgLikeError;
  const code = e.code ?? '';
  const message = e.message ?? String(err);
  if (code === '28P01' || code === '28000' || /password authentication failed|client password must be a string|no password supplied/i.test(message)) {
    return 'auth';
  }
  if (code === '3D000' || code === '42501') return 'config';
  if (/invalid snapshot identifier|snapshot .* does not exist/i.test(message) || code === '22023' && /snapshot/i.test(message)) {
    return 'snapshot-lost';
  }
  if (CONNECTION_CODES.has(code) || code.startsWith('08') || ['57P01', '57P02', '57P03', '53300'].includes(code)) {
    return 'connection';
  }
  if (/Connection terminated|connection timeout|Connection refused|could not connect|server closed the connection|timeout expired|Client has encountered a connection error/i.test(message)) {
    return 'connection';
  }
  return 'other';
}

/** Replaces every known secret in a text. */
export function scrub(text: string, secrets: string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret) out = out.split(secret).join('***');
  }
  // A connection string with an inline password, whatever produced it.
  return out.replace(/(postgres(?:ql)?:\/\/[^:@/\s]+:)[^@\s]+@/gi, '$1***@');
}

/** A one-line message from any error: PostgreSQL's message and SQLSTATE, never its DETAIL. */
export function errorMessage(err: unknown): string {
  const e = (err ?? {}) as PgLikeError & { hint?: string };
  const base = e.message ?? String(err);
  const sqlstate = e.code && /^[0-9A-Z]{5}$/.test(e.code) ? ` (SQLSTATE ${e.code})` : '';
  return `${base}${sqlstate}`;
}

export interface FailureContext {
  /** What was being done, e.g. "copy sales.orders"; a function when it changes as work goes on. */
  doing: string | (() => string);
  secrets: string[];
  retry: { connectionMinutes: number; otherMinutes: number };
  /**
   * When the current run of failures began (ms). Defaults to the activity's first scheduling;
   * a stream that ran fine for days counts from its last progress instead.
   */
  failingSince?: () => number;
}

const ADVICE: Partial<Record<ErrorKind, string>> = {
  auth: 'check the user and the password the worker finds (passwordEnv, passwordFile, PGPASSWORD or pgpass)',
  config: 'check the database name and the privileges of the user',
};

/**
 * Builds the failure to throw. Retryable while the error's window (counted from the first
 * attempt) is open; non-retryable after it, and at once for auth and config errors.
 */
export function toFailure(err: unknown, ctx: FailureContext, now = Date.now(), firstScheduledMs = firstAttemptScheduledMs()): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const kind = classifyError(err);
  const advice = ADVICE[kind] ? `; ${ADVICE[kind]}` : '';
  const doing = typeof ctx.doing === 'function' ? ctx.doing() : ctx.doing;
  const message = scrub(`${doing}: ${errorMessage(err)}${advice}`, ctx.secrets);
  const elapsedMinutes = (now - firstScheduledMs) / 60_000;
  switch (kind) {
    case 'auth':
      return ApplicationFailure.nonRetryable(message, FailureType.AuthenticationError);
    case 'config':
      return ApplicationFailure.nonRetryable(message, FailureType.ConfigurationError);
    case 'snapshot-lost':
      return ApplicationFailure.nonRetryable(message, FailureType.SnapshotLost);
    case 'connection':
      return elapsedMinutes >= ctx.retry.connectionMinutes
        ? ApplicationFailure.nonRetryable(`${message} (gave up after ${Math.round(elapsedMinutes)} min of retries)`, FailureType.ConnectionError)
        : ApplicationFailure.retryable(message, FailureType.ConnectionError);
    default:
      return elapsedMinutes >= ctx.retry.otherMinutes
        ? ApplicationFailure.nonRetryable(`${message} (gave up after ${Math.round(elapsedMinutes)} min of retries)`, FailureType.MigrationError)
        : ApplicationFailure.retryable(message, FailureType.MigrationError);
  }
}

function firstAttemptScheduledMs(): number {
  try {
    return Context.current().info.scheduledTimestampMs;
  } catch {
    return Date.now();
  }
}

/** Runs an activity body and turns anything it throws into a clean, classified failure. */
export async function guarded<T>(ctx: FailureContext, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    // A cancelled activity closes its connections, which makes pg throw "Connection
    // terminated": report the cancellation, not that.
    const cancelled = cancellationReason();
    if (cancelled) throw cancelled;
    throw toFailure(err, ctx, Date.now(), ctx.failingSince?.() ?? firstAttemptScheduledMs());
  }
}

function cancellationReason(): unknown {
  try {
    const signal = Context.current().cancellationSignal;
    return signal.aborted ? (signal.reason ?? new CancelledFailure('cancelled')) : undefined;
  } catch {
    return undefined;
  }
}

