import { describe, expect, it } from 'vitest';
import { timedStatements } from '../../bench/run-timeline';

describe('timedStatements', () => {
  const since = Date.parse('2026-12-05T20:00:00.000Z');
  const log = [
    '2026-12-05 20:00:03.500 UTC [4242] LOG:  duration: 1500.000 ms  statement: COPY public.wide (id,   title) FROM stdin;',
    '2026-12-05 20:00:01.250 UTC [4243] LOG:  duration: 250.000 ms  execute <unnamed>: ANALYZE "public"."nokey"',
    '2026-12-05 20:00:02.000 UTC [4243] LOG:  checkpoint starting: wal',
    '2026-12-05 20:00:05.000 UTC [4244] ERROR:  relation "x" does not exist',
  ].join('\n');

  it('gives each logged statement its start and end after the run began, in order of start', () => {
    expect(timedStatements(log, since)).toEqual([
      { startS: 1, endS: 1.25, pid: 4243, sql: 'ANALYZE "public"."nokey"' },
      { startS: 2, endS: 3.5, pid: 4242, sql: 'COPY public.wide (id, title) FROM stdin;' },
    ]);
  });

  it('finds nothing in lines that are not statement durations', () => {
    expect(timedStatements('2026-12-05 20:00:02.000 UTC [1] LOG:  checkpoint complete', since)).toEqual([]);
  });
});
