/**
 * An int2[], int4[] or int8[] parameter in PostgreSQL's binary array format, built from the
 * values' text as pgoutput sends it (int2out/int4out/int8out: an optional minus and digits).
 * Bound this way the target reads each integer as 2, 4 or 8 bytes; bound as text[] and cast,
 * every value went through text output and the integer's input function on the target
 * (measured on 8,000-row pgbench statements: a history insert 3.3 µs a row against 4.0 with
 * its four integers as text; bench/RESULTS-levers.md, sixteenth pass).
 *
 * Layout: binary-array.ts, with each element's fixed size.
 */
import { BinaryArrayBuilder } from './binary-array';

export type IntForm = 'int2' | 'int4' | 'int8';

const ELEMENT: Record<IntForm, { oid: number; bytes: number }> = {
  int2: { oid: 21, bytes: 2 },
  int4: { oid: 23, bytes: 4 },
  int8: { oid: 20, bytes: 8 },
};
/** Up to this many digits a value is exact as a JS number (below 2^53); longer int8 values go through BigInt. */
const EXACT_DIGITS = 15;
const MINUS = 0x2d;
const ZERO = 0x30;
const TWO_32 = 2 ** 32;

export class IntArrayBuilder extends BinaryArrayBuilder {
  private readonly bytes: number;

  /** `expected`: how many values will come (the buffer grows if more do). */
  constructor(
    private readonly form: IntForm,
    expected = 64,
  ) {
    super(ELEMENT[form].oid, expected * (4 + ELEMENT[form].bytes));
    this.bytes = ELEMENT[form].bytes;
  }

  /** The value's text, `length` bytes of `source` from `start`. */
  addBytes(source: Buffer, start: number, length: number): void {
    let i = start;
    const end = start + length;
    const negative = source[i] === MINUS;
    if (negative) i += 1;
    if (end - i > EXACT_DIGITS || end === i) return this.addBig(source.toString('latin1', start, end));
    let value = 0;
    for (; i < end; i += 1) {
      const digit = source[i] - ZERO;
      if (digit < 0 || digit > 9) return this.addBig(source.toString('latin1', start, end));
      value = value * 10 + digit;
    }
    this.write(negative ? -value : value);
  }

  add(value: string | null): void {
    if (value === null) return this.addNull();
    const negative = value.charCodeAt(0) === MINUS;
    const first = negative ? 1 : 0;
    if (value.length - first > EXACT_DIGITS || value.length === first) return this.addBig(value);
    let n = 0;
    for (let i = first; i < value.length; i += 1) {
      const digit = value.charCodeAt(i) - ZERO;
      if (digit < 0 || digit > 9) return this.addBig(value);
      n = n * 10 + digit;
    }
    this.write(negative ? -n : n);
  }

  /** A value beyond 15 digits (int8 only), or one that is not plain digits: exactly, or a clear error. */
  private addBig(text: string): void {
    if (!/^-?\d+$/.test(text)) throw new Error(`a value for an ${this.form} column is not an integer's text (${text.length} characters)`);
    const value = BigInt(text);
    if (this.form !== 'int8' || value < -(2n ** 63n) || value >= 2n ** 63n) throw new Error(`a value for an ${this.form} column is out of its range`);
    this.room(4 + 8);
    this.buf.writeInt32BE(8, this.at);
    this.buf.writeBigInt64BE(value, this.at + 4);
    this.at += 12;
    this.added();
  }

  private write(value: number): void {
    this.room(4 + this.bytes);
    const buf = this.buf;
    const at = this.at;
    buf.writeInt32BE(this.bytes, at);
    if (this.bytes === 4) buf.writeInt32BE(value, at + 4);
    else if (this.bytes === 8) {
      const high = Math.floor(value / TWO_32); // two's complement: the high word floors, the low one is what is left
      buf.writeInt32BE(high, at + 4);
      buf.writeUInt32BE(value - high * TWO_32, at + 8);
    } else buf.writeInt16BE(value, at + 4);
    this.at = at + 4 + this.bytes;
    this.added();
  }
}
