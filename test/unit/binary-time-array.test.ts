import { describe, expect, it } from 'vitest';
import { fromBytes as bytesInto, fromStrings as stringsInto } from '../support/array-builder-input';
import { daysSince1970, TimeArrayBuilder, type TimeForm } from '../../activities/stream/binary-time-array';

// Small builders: their buffers have to grow.
const fromStrings = (form: TimeForm, values: Array<string | null>) => stringsInto(new TimeArrayBuilder(form, 2), values);
const fromBytes = (form: TimeForm, values: Array<string | null>) => bytesInto(new TimeArrayBuilder(form, 2), values);

/** The elements as the integers PostgreSQL stores (days, or microseconds since 2000-01-01), or null. */
function elements(param: Buffer): Array<bigint | number | null> {
  const count = param.readInt32BE(0) === 0 ? 0 : param.readInt32BE(12);
  const out: Array<bigint | number | null> = [];
  let at = 20;
  for (let i = 0; i < count; i += 1) {
    const length = param.readInt32BE(at);
    at += 4;
    if (length === -1) out.push(null);
    else out.push(length === 4 ? param.readInt32BE(at) : param.readBigInt64BE(at));
    at += Math.max(0, length);
  }
  return out;
}

const MICROS_PER_DAY = 86_400_000_000n;

describe('daysSince1970', () => {
  it('counts the proleptic Gregorian calendar as JavaScript dates do, across leap years and centuries', () => {
    for (let year = 1; year <= 2500; year += 7) {
      for (const [month, day] of [[1, 1], [2, 28], [3, 1], [12, 31]]) {
        const js = new Date(0);
        js.setUTCFullYear(year, month - 1, day);
        expect(daysSince1970(year, month, day)).toBe(Math.round(js.getTime() / 86_400_000));
      }
    }
    expect(daysSince1970(2000, 2, 29) + 1).toBe(daysSince1970(2000, 3, 1));
    expect(daysSince1970(1900, 2, 28) + 1).toBe(daysSince1970(1900, 3, 1)); // 1900 has no leap day
  });

  it('counts years before year 1 (year 0 = 1 BC, a leap year)', () => {
    expect(daysSince1970(1, 1, 1) - daysSince1970(0, 1, 1)).toBe(366);
    expect(daysSince1970(0, 1, 1) - daysSince1970(-1, 1, 1)).toBe(365);
    // Julian day 0 (24 November 4714 BC, PostgreSQL's first date) is 2,440,588 days before 1970.
    expect(daysSince1970(-4713, 11, 24)).toBe(-2_440_588);
  });
});

describe('TimeArrayBuilder', () => {
  it('writes dates as days since 2000, BC years and infinities included', () => {
    const values = ['2000-01-01', '2000-01-02', '1999-12-31', '0001-01-01 BC', '4714-11-24 BC', '5874897-12-31', 'infinity', '-infinity', null];
    expect(elements(fromStrings('date', values))).toEqual([0, 1, -1, daysSince1970(0, 1, 1) - 10_957, -2_451_545, 2_145_031_948, 2 ** 31 - 1, -(2 ** 31), null]);
    expect(fromBytes('date', values).equals(fromStrings('date', values))).toBe(true);
  });

  it('writes timestamps as microseconds since 2000, with fractions of 1-6 digits, and beyond 2^53 exactly', () => {
    const values = ['2000-01-01 00:00:00', '2000-01-01 00:00:00.5', '2000-01-01 00:00:01.000001', '1999-12-31 23:59:59.999999', '2026-12-06 17:45:03.25', '294276-12-31 23:59:59.999999', '4714-11-24 00:00:00 BC', 'infinity', '-infinity'];
    expect(elements(fromStrings('timestamp', values))).toEqual([
      0n,
      500_000n,
      1_000_001n,
      -1n,
      BigInt(daysSince1970(2026, 12, 6) - 10_957) * MICROS_PER_DAY + BigInt((17 * 3600 + 45 * 60 + 3) * 1e6 + 250_000),
      BigInt(daysSince1970(294276, 12, 31) - 10_957) * MICROS_PER_DAY + 86_399_999_999n,
      -2_451_545n * MICROS_PER_DAY,
      2n ** 63n - 1n,
      -(2n ** 63n),
    ]);
    expect(fromBytes('timestamp', values).equals(fromStrings('timestamp', values))).toBe(true);
  });

  it('writes timestamptz in UTC, whatever offset (hours, minutes, seconds, either sign) the text carries', () => {
    const values = ['2000-01-01 00:00:00+00', '2000-01-01 01:00:00+01', '1999-12-31 19:00:00-05', '2000-01-01 05:45:00.5+05:45', '1999-12-31 23:15:30-00:44:30', '0001-01-01 00:19:32+00:19:32 BC'];
    expect(elements(fromStrings('timestamptz', values))).toEqual([0n, 0n, 0n, 500_000n, 0n, BigInt(daysSince1970(0, 1, 1) - 10_957) * MICROS_PER_DAY]);
    expect(fromBytes('timestamptz', values).equals(fromStrings('timestamptz', values))).toBe(true);
  });

  it('writes the header PostgreSQL reads: the element type of each form', () => {
    expect(fromStrings('date', ['2000-01-01']).readUInt32BE(8)).toBe(1082);
    expect(fromStrings('timestamp', []).readUInt32BE(8)).toBe(1114);
    expect(fromStrings('timestamptz', [null]).readUInt32BE(8)).toBe(1184);
    expect(fromStrings('timestamptz', [null]).readInt32BE(4)).toBe(1); // has NULLs
  });

  it('refuses text not in the ISO form, naming the column type and not quoting the value', () => {
    const bad: Array<[TimeForm, string]> = [
      ['date', '01/02/2026'],
      ['date', '2026-1-02'],
      ['date', '2026-13-01'],
      ['date', '2026-01-01 00:00:00'],
      ['timestamp', '2026-01-01'],
      ['timestamp', '2026-01-01 00:00:00+00'],
      ['timestamp', '2026-01-01 00:00:00.1234567'],
      ['timestamp', '2026-01-01 24:00:00'],
      ['timestamptz', '2026-01-01 00:00:00'],
      ['timestamptz', '2026-01-01 00:00:00 +00'],
      ['timestamptz', 'Thu Jan 01 00:00:00 2026 UTC'],
      ['date', 'infinit'],
      ['date', ''],
    ];
    for (const [form, value] of bad) {
      expect(() => fromStrings(form, [value]), `${form} ${value}`).toThrow(`a value for a ${form} column is not in the ISO form pgferry's sessions print (${value.length} characters)`);
      expect(() => fromBytes(form, [value]), `${form} ${value}`).toThrow('not in the ISO form');
    }
  });
});
