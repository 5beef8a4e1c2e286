/**
 * A one-dimensional array parameter in PostgreSQL's binary array format, the one `array_recv`
 * reads: the change stream binds a batch's rows as one array per column (column-array.ts), tens
 * of thousands of values a batch. node-postgres sends a Buffer parameter as binary, so the values
 * go into one buffer as they are: no literal to quote, escape or parse.
 *
 * Layout (src/backend/utils/adt/arrayfuncs.c, array_recv): int32 number of dimensions,
 * int32 flags (1: has NULLs), OID of the element type; per dimension int32 length and int32
 * lower bound; then per element int32 byte length (-1: NULL) and the bytes. An empty array
 * has no dimensions. Subclasses write the elements (binary-text-array.ts, binary-int-array.ts,
 * binary-time-array.ts).
 */

/**
 * A value the builder cannot write (its text is not in the form its type prints in): an
 * SQLSTATE as the target would give for it, and a message that does not quote the value.
 */
export function valueError(message: string, code: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

const HEADER_BYTES = 4 + 4 + 4;
const DIMENSION_BYTES = 4 + 4;
const TWO_32 = 2 ** 32;

export abstract class BinaryArrayBuilder {
  protected buf: Buffer;
  protected at = HEADER_BYTES + DIMENSION_BYTES;
  private count = 0;
  private hasNull = 0;

  /** `elementOid`: the element type; `expectedBytes`: room for the elements (the buffer grows if they need more). */
  constructor(
    private readonly elementOid: number,
    expectedBytes: number,
  ) {
    this.buf = Buffer.allocUnsafe(HEADER_BYTES + DIMENSION_BYTES + expectedBytes);
  }

  /** A value's text, `length` bytes of `source` from `start` (a frame's bytes, as pgoutput sent them). */
  abstract addBytes(source: Buffer, start: number, length: number): void;

  /** A value's text as a string (decoded, or a key), or NULL. */
  abstract add(value: string | null): void;

  addNull(): void {
    this.room(4);
    this.buf.writeInt32BE(-1, this.at);
    this.at += 4;
    this.added();
    this.hasNull = 1;
  }

  /** The parameter (the builder is done with). */
  finish(): Buffer {
    const empty = this.count === 0;
    this.buf.writeInt32BE(empty ? 0 : 1, 0); // dimensions
    this.buf.writeInt32BE(this.hasNull, 4);
    this.buf.writeInt32BE(this.elementOid, 8);
    if (empty) return this.buf.subarray(0, HEADER_BYTES);
    this.buf.writeInt32BE(this.count, 12);
    this.buf.writeInt32BE(1, 16); // lower bound, as in SQL
    return this.buf.subarray(0, this.at);
  }

  /** An element was written (its length word and bytes, from `at` on, which the caller moved). */
  protected added(): void {
    this.count += 1;
  }

  /**
   * Adds an element of `bytes` bytes: makes room, writes its length word and moves past it.
   * Returns where its bytes go; write them through `this.buf` read after this call (the buffer
   * may have grown into a new one).
   */
  protected element(bytes: number): number {
    this.room(4 + bytes);
    const at = this.at;
    this.buf.writeInt32BE(bytes, at);
    this.at = at + 4 + bytes;
    this.added();
    return at + 4;
  }

  /** An int64 at `at`, from a whole number of at most 2^53 in magnitude (exact as a JS number). */
  protected writeInt64(value: number, at: number): void {
    const high = Math.floor(value / TWO_32); // two's complement: the high word floors, the low one is what is left
    this.buf.writeInt32BE(high, at);
    this.buf.writeUInt32BE(value - high * TWO_32, at + 4);
  }

  /** Makes room for `bytes` more at `at`. */
  protected room(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.at + bytes, this.buf.length * 2));
    this.buf.copy(bigger, 0, 0, this.at);
    this.buf = bigger;
  }
}
