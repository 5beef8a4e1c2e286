/**
 * A date[], timestamp[] or timestamptz[] parameter in PostgreSQL's binary array format, built
 * from the values' text as the change stream's sessions print it: DateStyle ISO (activities/db.ts
 * sets it on every session, the walsender's too), i.e.
 *
 *   date         YYYY-MM-DD[ BC]
 *   timestamp    YYYY-MM-DD HH:MM:SS[.ffffff][ BC]
 *   timestamptz  YYYY-MM-DD HH:MM:SS[.ffffff]±HH[:MM[:SS]][ BC]
 *
 * with years of four digits or more, or `infinity` / `-infinity` (EncodeDateOnly,
 * EncodeDateTime in src/backend/utils/adt/datetime.c). Bound this way the target reads each
 * value as 4 or 8 bytes; bound as text[] and cast, every value went through text output and the
 * date/time parser on the target (measured on 8,000-row pgbench history inserts: 2.8 µs a row
 * against 3.3 with the timestamp as text; bench/RESULTS-levers.md, sixteenth pass).
 *
 * Binary forms (timestamp_recv, date_recv): a timestamp is int64 microseconds since
 * 2000-01-01 00:00:00 (timestamptz: in UTC), a date int32 days since 2000-01-01, in the
 * proleptic Gregorian calendar; ±infinity are the types' extreme integers.
 */
import { BinaryArrayBuilder, valueError } from './binary-array';

export type TimeForm = 'date' | 'timestamp' | 'timestamptz';

const ELEMENT: Record<TimeForm, { oid: number; bytes: number }> = {
  date: { oid: 1082, bytes: 4 },
  timestamp: { oid: 1114, bytes: 8 },
  timestamptz: { oid: 1184, bytes: 8 },
};

const DAYS_1970_TO_2000 = 10_957;
const MICROS_PER_SECOND = 1_000_000;
const MICROS_PER_DAY = 86_400 * MICROS_PER_SECOND;
/** Within this many days of 2000 a timestamp's microseconds stay below 2^53 (exact as a JS number). */
const EXACT_DAYS = 100_000;

const ZERO = 0x30;
const DASH = 0x2d;
const PLUS = 0x2b;
const COLON = 0x3a;
const DOT = 0x2e;
const SPACE = 0x20;
const BC = Buffer.from(' BC', 'latin1');
const INFINITY = Buffer.from('infinity', 'latin1');

const INVALID_DATETIME_FORMAT = '22007';

/** Thrown at the first character that does not fit the form; the builder turns it into its error. */
class NotIsoText extends Error {}

export class TimeArrayBuilder extends BinaryArrayBuilder {
  /** One cursor for every value (no object per value in a drain). */
  private readonly text = new IsoReader();

  /** `expected`: how many values will come (the buffer grows if more do). */
  constructor(
    private readonly form: TimeForm,
    expected = 64,
  ) {
    super(ELEMENT[form].oid, expected * (4 + ELEMENT[form].bytes));
  }

  add(value: string | null): void {
    if (value === null) return this.addNull();
    const bytes = Buffer.from(value, 'latin1');
    this.addBytes(bytes, 0, bytes.length);
  }

  addBytes(source: Buffer, start: number, length: number): void {
    try {
      this.parse(source, start, start + length);
    } catch (error) {
      if (!(error instanceof NotIsoText)) throw error;
      // The value is not quoted: it is the user's data.
      throw valueError(`a value for a ${this.form} column is not in the ISO form pgferry's sessions print (${length} characters)`, INVALID_DATETIME_FORMAT);
    }
  }

  private parse(s: Buffer, start: number, end: number): void {
    if (isInfinity(s, start, end, false)) return this.writeExtreme(1);
    if (isInfinity(s, start, end, true)) return this.writeExtreme(-1);
    const bc = end - start > BC.length && s.compare(BC, 0, BC.length, end - BC.length, end) === 0;
    if (bc) end -= BC.length;
    const text = this.text.over(s, start, end);
    let year = text.digitsUntil(DASH, 4);
    if (bc) year = 1 - year; // 1 BC is year 0 (astronomical numbering), as date2j counts
    const month = text.twoDigits();
    text.expect(DASH);
    const day = text.twoDigits();
    if (month < 1 || month > 12 || day < 1 || day > 31) throw new NotIsoText();
    const days = daysSince1970(year, month, day) - DAYS_1970_TO_2000;
    if (this.form === 'date') {
      text.finished();
      return this.writeDate(days);
    }
    text.expect(SPACE);
    const hour = text.twoDigits();
    text.expect(COLON);
    const minute = text.twoDigits();
    text.expect(COLON);
    const second = text.twoDigits();
    if (hour > 23 || minute > 59 || second > 59) throw new NotIsoText();
    const micros = text.at(DOT) ? text.fraction() : 0;
    const offset = this.form === 'timestamptz' ? text.offsetSeconds() : 0;
    text.finished();
    const secondsOfDay = hour * 3600 + minute * 60 + second - offset;
    if (days > -EXACT_DAYS && days < EXACT_DAYS) return this.writeTimestamp(days * MICROS_PER_DAY + secondsOfDay * MICROS_PER_SECOND + micros);
    this.writeBigTimestamp(BigInt(days) * BigInt(MICROS_PER_DAY) + BigInt(secondsOfDay * MICROS_PER_SECOND + micros));
  }

  private writeDate(days: number): void {
    const at = this.element(4);
    this.buf.writeInt32BE(days, at);
  }

  private writeTimestamp(micros: number): void {
    const at = this.element(8);
    this.writeInt64(micros, at);
  }

  private writeBigTimestamp(micros: bigint): void {
    const at = this.element(8);
    this.buf.writeBigInt64BE(micros, at);
  }

  /** ±infinity: the type's greatest or least integer (DT_NOEND / DT_NOBEGIN, DATEVAL_NOEND / DATEVAL_NOBEGIN). */
  private writeExtreme(sign: 1 | -1): void {
    if (this.form === 'date') return this.writeDate(sign > 0 ? 2 ** 31 - 1 : -(2 ** 31));
    this.writeBigTimestamp(sign > 0 ? 2n ** 63n - 1n : -(2n ** 63n));
  }
}

function isInfinity(s: Buffer, start: number, end: number, negative: boolean): boolean {
  const from = negative ? start + 1 : start;
  if (negative && s[start] !== DASH) return false;
  return end - from === INFINITY.length && s.compare(INFINITY, 0, INFINITY.length, from, end) === 0;
}

/**
 * Days from 1970-01-01 to a date of the proleptic Gregorian calendar (year 0 = 1 BC), counted in
 * 400-year eras that begin on 1 March, so that a leap day is the last day of its year.
 */
export function daysSince1970(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const monthFromMarch = month > 2 ? month - 3 : month + 9;
  const dayOfYear = Math.floor((153 * monthFromMarch + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

/** A cursor over a value's ISO text that throws NotIsoText at the first thing out of place. */
class IsoReader {
  private s: Buffer = Buffer.alloc(0);
  private i = 0;
  private end = 0;

  /** Reads `s` from `start` to `end` from now on. */
  over(s: Buffer, start: number, end: number): this {
    this.s = s;
    this.i = start;
    this.end = end;
    return this;
  }

  /** At least `min` digits up to `stop` (consumed). */
  digitsUntil(stop: number, min: number): number {
    const first = this.i;
    let value = 0;
    while (this.i < this.end && this.s[this.i] !== stop) value = value * 10 + this.digit();
    if (this.i === this.end || this.i - first < min || this.i - first > 9) throw new NotIsoText();
    this.i += 1;
    return value;
  }

  twoDigits(): number {
    return this.digit() * 10 + this.digit();
  }

  expect(byte: number): void {
    if (this.i >= this.end || this.s[this.i] !== byte) throw new NotIsoText();
    this.i += 1;
  }

  /** Whether `byte` comes next (consumed if so). */
  at(byte: number): boolean {
    if (this.i >= this.end || this.s[this.i] !== byte) return false;
    this.i += 1;
    return true;
  }

  /** 1-6 digits of a second's fraction, as microseconds. */
  fraction(): number {
    let micros = 0;
    let digits = 0;
    while (this.i < this.end && this.s[this.i] !== PLUS && this.s[this.i] !== DASH) {
      micros = micros * 10 + this.digit();
      digits += 1;
    }
    if (digits < 1 || digits > 6) throw new NotIsoText();
    return micros * 10 ** (6 - digits);
  }

  /** ±HH[:MM[:SS]] east of UTC, in seconds. */
  offsetSeconds(): number {
    const sign = this.at(PLUS) ? 1 : this.at(DASH) ? -1 : 0;
    if (sign === 0) throw new NotIsoText();
    let seconds = this.twoDigits() * 3600;
    if (this.at(COLON)) seconds += this.twoDigits() * 60;
    if (this.at(COLON)) seconds += this.twoDigits();
    return sign * seconds;
  }

  finished(): void {
    if (this.i !== this.end) throw new NotIsoText();
  }

  private digit(): number {
    const digit = this.i < this.end ? this.s[this.i] - ZERO : -1;
    if (digit < 0 || digit > 9) throw new NotIsoText();
    this.i += 1;
    return digit;
  }
}
