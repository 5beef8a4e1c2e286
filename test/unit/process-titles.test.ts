import { describe, expect, it } from 'vitest';
import { processKind } from '../../bench/process-titles';

describe('process kinds from postgres titles', () => {
  it('names background processes, and backends by the command they run', () => {
    expect(processKind('checkpointer ')).toBe('checkpointer');
    expect(processKind('parallel worker for PID 4242')).toBe('parallel worker');
    expect(processKind('autovacuum worker bench')).toBe('autovacuum worker');
    expect(processKind('app bench 127.0.0.1(51234) COPY')).toBe('backend COPY');
    expect(processKind('app bench 127.0.0.1(51234) CREATE INDEX waiting')).toBe('backend CREATE INDEX');
    expect(processKind('app bench 127.0.0.1(51234) idle in transaction')).toBe('backend idle in transaction');
    expect(processKind('app bench [local]')).toBe('backend ?');
  });
});
