import { describe, expect, it } from 'vitest';
import { formatLsn, parseLsn, pgTimeToUnixMicros, PG_EPOCH_MICROS, readInt64BE, readUInt64BE, unixMicrosToPgTime } from '../../common/lsn';
import { parseCopyBothFrame, standbyStatusUpdate } from '../../activities/stream/replication-frames';
import { messageBytes, XLOG_DATA_HEADER } from '../../activities/stream/pgoutput-types';
import { walStartOf } from '../support/frame-source';

const UNIX_MICROS = BigInt(Date.parse('2026-01-02T03:04:05.678Z')) * 1000n + 901n;
const PG_MICROS = UNIX_MICROS - 946_684_800_000_000n;

function u64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(v);
  return b;
}
function i64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(v);
  return b;
}

describe('LSN', () => {
  it('parses PostgreSQL notation', () => {
    expect(parseLsn('0/0')).toBe(0n);
    expect(parseLsn('0/16B3748')).toBe(0x16b3748n);
    expect(parseLsn('16/B374D848')).toBe(0x16_b374d848n);
    expect(parseLsn('16/b374d848')).toBe(97500059720n);
    expect(parseLsn('1/0')).toBe(4294967296n);
    expect(parseLsn('FFFFFFFF/FFFFFFFF')).toBe(2n ** 64n - 1n);
    expect(parseLsn('80000000/00000000')).toBe(2n ** 63n);
  });

  it('formats like pg_lsn: upper case, no leading zeros per half', () => {
    expect(formatLsn(0n)).toBe('0/0');
    expect(formatLsn(0x16_b374d848n)).toBe('16/B374D848');
    expect(formatLsn(0x1_0000000an)).toBe('1/A');
    expect(formatLsn(2n ** 63n + 5n)).toBe('80000000/5');
    expect(formatLsn(2n ** 64n - 1n)).toBe('FFFFFFFF/FFFFFFFF');
  });

  it('round-trips values below 2^32, above 2^32 and around 2^63', () => {
    for (const v of [0n, 1n, 0xffffffffn, 2n ** 32n, 0x16_b374d848n, 2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 63n + 0xabcn, 2n ** 64n - 1n]) {
      expect(parseLsn(formatLsn(v))).toBe(v);
    }
    for (const s of ['0/0', '0/1', '16/B374D848', '7FFFFFFF/FFFFFFFF', '80000000/0']) expect(formatLsn(parseLsn(s))).toBe(s);
  });

  it('rejects malformed text and out-of-range values', () => {
    for (const bad of ['', '/', '0/', '/0', '16B374D848', '1/2/3', 'G/0', '0/-1', '123456789/0', ' 0/0', '0x1/0']) {
      expect(() => parseLsn(bad), bad).toThrow(/invalid LSN/);
    }
    expect(() => formatLsn(-1n)).toThrow(RangeError);
    expect(() => formatLsn(2n ** 64n)).toThrow(RangeError);
  });

  it('converts between the PostgreSQL and Unix epochs', () => {
    expect(PG_EPOCH_MICROS).toBe(BigInt(Date.parse('2000-01-01T00:00:00Z')) * 1000n);
    expect(pgTimeToUnixMicros(0n)).toBe(946_684_800_000_000n);
    expect(pgTimeToUnixMicros(PG_MICROS)).toBe(UNIX_MICROS);
    expect(unixMicrosToPgTime(UNIX_MICROS)).toBe(PG_MICROS);
    expect(unixMicrosToPgTime(0n)).toBe(-946_684_800_000_000n);
  });
});

describe('64-bit reads', () => {
  it('read every value exactly as Buffer does, on both sides of 2^53', () => {
    const unsigned = [0n, 1n, 0xffff_ffffn, 0x1_0000_0000n, 0x16_b374d848n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n + 7n, 2n ** 64n - 1n];
    for (const v of unsigned) {
      const b = Buffer.alloc(11);
      b.writeBigUInt64BE(v, 3);
      expect(readUInt64BE(b, 3)).toBe(v);
    }
    const signed = [0n, -1n, 1n, -(2n ** 32n), 2n ** 53n - 1n, -(2n ** 53n), -(2n ** 53n) - 1n, 2n ** 53n, 2n ** 63n - 1n, -(2n ** 63n), PG_MICROS];
    for (const v of signed) {
      const b = Buffer.alloc(8);
      b.writeBigInt64BE(v);
      expect(readInt64BE(b, 0)).toBe(v);
    }
  });
});

describe('parseCopyBothFrame', () => {
  it('parses XLogData and keeps the payload bytes', () => {
    const payload = Buffer.from('B\u0000payload ☃');
    const buf = Buffer.concat([Buffer.from('w'), u64(0x16_b374d848n), u64(2n ** 63n + 7n), i64(PG_MICROS), payload]);
    const frame = parseCopyBothFrame(buf);
    expect(frame).toEqual({ kind: 'xlogdata', data: buf, at: XLOG_DATA_HEADER, end: buf.length });
    expect(frame.kind === 'xlogdata' && walStartOf(frame)).toBe(0x16_b374d848n);
    // the bytes as received, not a copy; its message from `at` to `end`
    expect(frame.kind === 'xlogdata' && frame.data).toBe(buf);
    expect(frame.kind === 'xlogdata' && frame.data.subarray(frame.at, frame.end)).toEqual(payload);
    expect(frame.kind === 'xlogdata' && messageBytes(frame)).toBe(payload.length);
  });

  it('parses a frame in place, inside the bytes of others', () => {
    const xlog = Buffer.concat([Buffer.from('w'), u64(9n), u64(10n), i64(0n), Buffer.from('I-message')]);
    const keepalive = Buffer.concat([Buffer.from('k'), u64(11n), i64(PG_MICROS), Buffer.from([1])]);
    const chunk = Buffer.concat([Buffer.from('junk'), xlog, keepalive, Buffer.from('more')]);
    const frame = parseCopyBothFrame(chunk, 4, 4 + xlog.length);
    expect(frame).toMatchObject({ kind: 'xlogdata', at: 4 + XLOG_DATA_HEADER, end: 4 + xlog.length });
    expect(frame.kind === 'xlogdata' && walStartOf(frame)).toBe(9n);
    expect(frame.kind === 'xlogdata' && frame.data.toString('utf8', frame.at, frame.end)).toBe('I-message');
    const at = 4 + xlog.length;
    expect(parseCopyBothFrame(chunk, at, at + keepalive.length)).toEqual({ kind: 'keepalive', walEnd: 11n, sendTimeMicros: UNIX_MICROS, replyRequested: true });
    expect(() => parseCopyBothFrame(chunk, at, at + keepalive.length - 1)).toThrow(/malformed primary keepalive frame: 17 bytes/);
    expect(() => parseCopyBothFrame(chunk, 4, 4 + 20)).toThrow(/truncated XLogData frame: 20 bytes/);
    expect(() => parseCopyBothFrame(chunk, 4, 4)).toThrow(/empty CopyData frame/);
  });

  it('parses XLogData with an empty payload', () => {
    const frame = parseCopyBothFrame(Buffer.concat([Buffer.from('w'), u64(1n), u64(2n), i64(0n)]));
    expect(frame).toMatchObject({ kind: 'xlogdata', at: XLOG_DATA_HEADER, end: XLOG_DATA_HEADER });
    expect(frame.kind === 'xlogdata' && walStartOf(frame)).toBe(1n);
    expect(frame.kind === 'xlogdata' && messageBytes(frame)).toBe(0);
  });

  it('parses keepalives with and without a reply request', () => {
    const keepalive = (reply: number) => Buffer.concat([Buffer.from('k'), u64(0xffff_ffff_0000_0001n), i64(PG_MICROS), Buffer.from([reply])]);
    expect(parseCopyBothFrame(keepalive(1))).toEqual({ kind: 'keepalive', walEnd: 0xffff_ffff_0000_0001n, sendTimeMicros: UNIX_MICROS, replyRequested: true });
    expect(parseCopyBothFrame(keepalive(0))).toEqual({ kind: 'keepalive', walEnd: 0xffff_ffff_0000_0001n, sendTimeMicros: UNIX_MICROS, replyRequested: false });
  });

  it('names unknown and rejects short frames', () => {
    expect(() => parseCopyBothFrame(Buffer.from('r0000'))).toThrow(/unknown replication CopyData message type 'r' \(0x72\)/);
    expect(() => parseCopyBothFrame(Buffer.from([0x00, 1, 2]))).toThrow(/message type 0x00/);
    expect(() => parseCopyBothFrame(Buffer.alloc(0))).toThrow(/empty CopyData frame/);
    expect(() => parseCopyBothFrame(Buffer.concat([Buffer.from('w'), u64(1n), u64(2n)]))).toThrow(/truncated XLogData frame: 17 bytes/);
    expect(() => parseCopyBothFrame(Buffer.concat([Buffer.from('k'), u64(1n), i64(2n)]))).toThrow(/malformed primary keepalive frame: 17 bytes/);
  });
});

describe('standbyStatusUpdate', () => {
  it('lays out r, three positions, the client time in protocol time and the reply flag', () => {
    const buf = standbyStatusUpdate({ written: 2n ** 63n + 1n, flushed: 0x16_b374d848n, applied: 5n, replyRequested: true, nowMicros: UNIX_MICROS });
    expect(buf.length).toBe(34);
    expect(buf.toString('hex')).toBe(
      '72' + '8000000000000001' + '00000016b374d848' + '0000000000000005' + i64(PG_MICROS).toString('hex') + '01',
    );
    expect(buf.readBigInt64BE(25)).toBe(PG_MICROS);
  });

  it('defaults to no reply request and the current time', () => {
    const before = BigInt(Date.now()) * 1000n;
    const buf = standbyStatusUpdate({ written: 3n, flushed: 2n, applied: 1n });
    const after = BigInt(Date.now()) * 1000n;
    expect(buf[0]).toBe(0x72);
    expect([buf.readBigUInt64BE(1), buf.readBigUInt64BE(9), buf.readBigUInt64BE(17)]).toEqual([3n, 2n, 1n]);
    const sent = pgTimeToUnixMicros(buf.readBigInt64BE(25));
    expect(sent >= before && sent <= after).toBe(true);
    expect(buf[33]).toBe(0);
  });

  it('rejects positions outside 64 unsigned bits', () => {
    expect(() => standbyStatusUpdate({ written: -1n, flushed: 0n, applied: 0n })).toThrow(RangeError);
  });
});
