import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { classifyError, scrub, toFailure } from '../../activities/errors';

const retry = { connectionMinutes: 720, otherMinutes: 10 };
const pgError = (code: string, message: string) => Object.assign(new Error(message), { code, detail: 'Failing row contains (42, secret row data).' });

describe('classifyError', () => {
  it('tells connection, auth, config and snapshot errors apart', () => {
    expect(classifyError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toBe('connection');
    expect(classifyError(new Error('Connection terminated unexpectedly'))).toBe('connection');
    expect(classifyError(pgError('57P01', 'terminating connection due to administrator command'))).toBe('connection');
    expect(classifyError(pgError('28P01', 'password authentication failed for user "alice"'))).toBe('auth');
    expect(classifyError(pgError('3D000', 'database "nope" does not exist'))).toBe('config');
    expect(classifyError(pgError('22023', 'invalid snapshot identifier: "00000003-0000001B-1"'))).toBe('snapshot-lost');
    expect(classifyError(pgError('23505', 'duplicate key value violates unique constraint "t_pkey"'))).toBe('other');
  });
});

describe('scrub', () => {
  it('removes known secrets and inline URL passwords', () => {
    expect(scrub('login as alice with s3cr3t failed', ['s3cr3t'])).toBe('login as alice with *** failed');
    expect(scrub('postgres://alice:pw@host/db', [])).toBe('postgres://alice:***@host/db');
  });
});

describe('toFailure', () => {
  const start = Date.parse('2026-01-01T00:00:00Z');

  it('retries connection errors inside their window and gives up after it', () => {
    const err = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const early = toFailure(err, { doing: 'copy public.t', secrets: [], retry }, start + 60 * 60_000, start);
    expect(early.nonRetryable).toBe(false);
    expect(early.type).toBe('ConnectionError');
    const late = toFailure(err, { doing: 'copy public.t', secrets: [], retry }, start + 721 * 60_000, start);
    expect(late.nonRetryable).toBe(true);
    expect(late.message).toContain('gave up after 721 min');
  });

  it('gives up on other errors after the shorter window', () => {
    const err = pgError('23505', 'duplicate key value violates unique constraint "t_pkey"');
    expect(toFailure(err, { doing: 'copy public.t', secrets: [], retry }, start + 5 * 60_000, start).nonRetryable).toBe(false);
    expect(toFailure(err, { doing: 'copy public.t', secrets: [], retry }, start + 11 * 60_000, start).nonRetryable).toBe(true);
  });

  it('fails auth errors at once, without row data or secrets in the message', () => {
    const failure = toFailure(pgError('28P01', 'password authentication failed for user "alice" (pw hunter2)'), { doing: 'connect to source', secrets: ['hunter2'], retry }, start, start);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.type).toBe('AuthenticationError');
    expect(failure.message).not.toContain('hunter2');
    expect(failure.message).not.toContain('secret row data');
    expect(failure.message).toContain('SQLSTATE 28P01');
  });
});
