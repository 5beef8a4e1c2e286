import { describe, expect, it } from 'vitest';
import { holdChannels, StreamHold } from '../../activities/stream/stream-hold';
import { parseLsn } from '../../common/lsn';

const hold = (token: string, lsn?: string, maxMs = 5_000) => JSON.stringify({ op: 'hold', token, ...(lsn ? { lsn } : {}), maxMs });
const release = (token: string) => JSON.stringify({ op: 'release', token });

describe('stream hold', () => {
  it('holds before any new transaction at once when asked without a position (the pre-hold)', () => {
    const h = new StreamHold();
    expect(h.receive(hold('a'), 0)).toBe(true);
    expect(h.blocks(parseLsn('0/10'), 1)).toBe(true);
    expect(h.readyToHold(1)).toEqual({});
    expect(h.held(parseLsn('0/8'), 1)).toEqual({ token: 'a', position: '0/8' });
    expect(h.holding(2)).toBe(true);
    expect(h.readyToHold(2)).toBeUndefined(); // answered once
  });

  it('lets transactions before the position through and holds exactly at it once something past it arrived', () => {
    const h = new StreamHold();
    h.receive(hold('b', '0/100'), 0);
    expect(h.blocks(parseLsn('0/FF'), 1)).toBe(false);
    expect(h.awaitingPosition(1)).toBe(true);
    expect(h.readyToHold(1)).toBeUndefined(); // a later commit before 0/100 may still come
    h.saw(parseLsn('0/90')); // a keepalive short of it changes nothing
    expect(h.readyToHold(1)).toBeUndefined();
    h.saw(parseLsn('0/100')); // a heartbeat at the position: everything before it has arrived
    expect(h.readyToHold(1)).toEqual({ position: parseLsn('0/100') });
    expect(h.held(parseLsn('0/100'), 1)?.position).toBe('0/100');
    expect(h.blocks(parseLsn('0/100'), 2)).toBe(true);
  });

  it('knows it has everything before the position when a transaction at or past it begins', () => {
    const h = new StreamHold();
    h.receive(hold('c', '0/100'), 0);
    expect(h.blocks(parseLsn('0/200'), 1)).toBe(true);
    expect(h.readyToHold(1)).toEqual({ position: parseLsn('0/100') });
  });

  it('a later request replaces the earlier one (pre-hold, then the position)', () => {
    const h = new StreamHold();
    h.receive(hold('pre'), 0);
    h.held(parseLsn('0/50'), 0);
    h.receive(hold('at', '0/100'), 10);
    expect(h.holding(10)).toBe(false);
    expect(h.blocks(parseLsn('0/60'), 10)).toBe(false); // committed before 0/100: applied now
    expect(h.heldMs).toBe(10);
  });

  it('ends on release of its own token only, and expires by itself', () => {
    const h = new StreamHold();
    h.receive(hold('d', undefined, 1_000), 0);
    h.held(0n, 0);
    expect(h.receive(release('other'), 5)).toBe(false);
    expect(h.holding(5)).toBe(true);
    expect(h.receive(release('d'), 6)).toBe(true);
    expect(h.active(6)).toBe(false);
    h.receive(hold('e', undefined, 1_000), 10);
    h.held(0n, 10);
    expect(h.holding(1_009)).toBe(true);
    expect(h.holding(1_010)).toBe(false); // a dead verifier never stalls the stream
    expect(h.blocks(parseLsn('9/0'), 1_011)).toBe(false);
  });

  it('ignores payloads that are not hold messages and caps the hold time', () => {
    const h = new StreamHold();
    expect(h.receive('not json')).toBe(false);
    expect(h.receive(JSON.stringify({ op: 'other' }))).toBe(false);
    h.receive(JSON.stringify({ op: 'hold', token: 'f', maxMs: 1e12 }), 0);
    expect(h.active(10 * 60_000)).toBe(false);
  });

  it('names its channels after the migration, within the identifier limit', () => {
    const { requests, acks } = holdChannels('pgferry-a-very-long-workflow-id-of-a-migration-2026-01-01T00:00:00Z');
    expect(acks).toBe(`${requests}_ack`);
    expect(Buffer.byteLength(acks)).toBeLessThanOrEqual(63);
    expect(holdChannels('x').requests).not.toBe(holdChannels('y').requests);
  });
});
