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
import { BinaryArrayBuilder, valueError } from './binary-array';

export type IntForm = 'int2' | 'int4' | 'int8';

const ELEMENT: Record<IntForm, { oid: number; bytes: number; max: number }> = {
  int2: { oid: 21, bytes: 2, max: 2 ** 15 - 1 },
  int4: { oid: 23, bytes: 4, max: 2 ** 31 - 1 },
  int8: { oid: 20, bytes: 8, max: Number.MAX_SAFE_INTEGER }, // larger ones go through BigInt
};
const INVALID_TEXT = '22P02';
const OUT_OF_RANGE = '22003';
/** Up to this many digits a value is exact as a JS number (below 2^53); longer int8 values go through BigInt. */
const EXACT_DIGITS = 15;
const MINUS = 0x2d;
const ZERO = 0x30;
const INTEGER_TEXT = /^-?\d+$/;
const INT8_MIN = -(2n ** 63n);
const INT8_MAX = 2n ** 63n - 1n;

export class IntArrayBuilder extends BinaryArrayBuilder {
  private readonly bytes: number;
  private readonly max: number;

  /** `expected`: how many values will come (the buffer grows if more do). */
  constructor(
    private readonly form: IntForm,
    expected = 64,
  ) {
    super(ELEMENT[form].oid, expected * (4 + ELEMENT[form].bytes));
    this.bytes = ELEMENT[form].bytes;
    this.max = ELEMENT[form].max;
  }

  /** The fast path of a drain: the digits read from the frame's bytes, no string made. */
  addBytes(source: Buffer, start: number, length: number): void {
    const end = start + length;
    const first = source[start] === MINUS ? start + 1 : start;
    if (end - first > EXACT_DIGITS || end === first) return this.add(source.toString('latin1', start, end));
    let value = 0;
    for (let i = first; i < end; i += 1) {
      const digit = source[i] - ZERO;
      if (digit < 0 || digit > 9) return this.add(source.toString('latin1', start, end)); // add() says what is wrong
      value = value * 10 + digit;
    }
    this.write(first > start ? -value : value);
  }

  add(value: string | null): void {
    if (value === null) return this.addNull();
    if (!INTEGER_TEXT.test(value)) throw valueError(`a value for an ${this.form} column is not an integer's text (${value.length} characters)`, INVALID_TEXT);
    if (value.length - (value[0] === '-' ? 1 : 0) <= EXACT_DIGITS) return this.write(Number(value));
    // Beyond 2^53: only an int8 holds such a value.
    const big = BigInt(value);
    if (this.form !== 'int8' || big < INT8_MIN || big > INT8_MAX) throw this.outOfRange();
    const at = this.element(8);
    this.buf.writeBigInt64BE(big, at);
  }

  private write(value: number): void {
    if (value > this.max || value < -this.max - 1) throw this.outOfRange();
    const at = this.element(this.bytes);
    if (this.bytes === 4) this.buf.writeInt32BE(value, at);
    else if (this.bytes === 8) this.writeInt64(value, at);
    else this.buf.writeInt16BE(value, at);
  }

  private outOfRange(): Error {
    return valueError(`a value for an ${this.form} column is out of its range`, OUT_OF_RANGE);
  }
}
