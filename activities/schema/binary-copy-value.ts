/**
 * The one value of a `COPY (SELECT <one column>) TO STDOUT (FORMAT binary)` of one row, as a
 * stream of its bytes: a bytea of many megabytes reaches a file without ever being whole in
 * the worker's memory, and without the hex text a query result would bring (twice its size).
 *
 * Binary COPY: an 11-byte signature, a flags word, a header extension (its length, then that
 * many bytes), then per row a field count (int16) and per field a length (int32, -1 for NULL)
 * and the bytes; a trailer of -1 (int16) ends it.
 * https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4
 */
import { Transform, type TransformCallback } from 'node:stream';

/** What every binary COPY stream starts with (binary-copy-row.ts writes it too). */
export const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const FIXED_HEADER = SIGNATURE.length + 4 + 4; // signature, flags, extension length

export class BinaryCopyValue extends Transform {
  /** Bytes before the value (header, extension, field count, field length) not yet parsed. */
  private head = Buffer.alloc(0);
  private valueLeft = -1; // -1: the value's length is not known yet
  /** Whether the row had a value (false: no row, or NULL). */
  found = false;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.valueLeft < 0) {
      this.head = Buffer.concat([this.head, chunk]);
      let start: number | undefined;
      try {
        start = this.valueStart();
      } catch (err) {
        return done(err as Error);
      }
      if (start === undefined) return done();
      if (start < 0) return done(); // no row or NULL: nothing to write
      chunk = this.head.subarray(start);
      this.head = Buffer.alloc(0);
    }
    if (this.valueLeft > 0 && chunk.length) {
      const part = chunk.subarray(0, this.valueLeft);
      this.valueLeft -= part.length;
      this.push(part);
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.valueLeft < 0) return done(new Error(`binary COPY ended in its header, after ${this.head.length} bytes`));
    if (this.valueLeft > 0) return done(new Error(`binary COPY ended ${this.valueLeft} bytes before the end of its value`));
    done();
  }

  /** Where the value starts in `head`; undefined: more bytes needed; -1: there is no value. */
  private valueStart(): number | undefined {
    const head = this.head;
    if (head.length < FIXED_HEADER) return undefined;
    if (!head.subarray(0, SIGNATURE.length).equals(SIGNATURE)) throw new Error('not a binary COPY stream');
    const fieldsAt = FIXED_HEADER + head.readUInt32BE(SIGNATURE.length + 4);
    if (head.length < fieldsAt + 2) return undefined;
    const fields = head.readInt16BE(fieldsAt);
    if (fields === -1) return this.noValue(); // the trailer: no row
    if (fields !== 1) throw new Error(`binary COPY of ${fields} columns, one expected`);
    if (head.length < fieldsAt + 6) return undefined;
    const length = head.readInt32BE(fieldsAt + 2);
    if (length < 0) return this.noValue();
    this.found = true;
    this.valueLeft = length;
    return fieldsAt + 6;
  }

  private noValue(): number {
    this.valueLeft = 0;
    return -1;
  }
}
