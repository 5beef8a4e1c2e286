/**
 * Decodes one pgoutput message (protocol version 1, PostgreSQL "Logical Replication Message
 * Formats") from an XLogData payload. It is on the hot path of change capture, so it walks the
 * buffer with one offset-based reader: no per-byte allocation, no regexes, no copies of
 * message content (Message `M` content is a view of the payload).
 *
 * Column values stay PostgreSQL text (pgferry binds them back as text parameters): converting
 * to JS numbers or dates would lose precision. Binary values are never requested, so a `b`
 * column is a protocol error here.
 *
 * Message formats: https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html
 * Options and message flow (proto_version 1, no streaming or two-phase):
 * https://www.postgresql.org/docs/15/protocol-logical-replication.html
 */
import { pgTimeToUnixMicros, readInt64BE, readUInt64BE } from '../../common/lsn';
import { COL_BINARY, COL_NULL, COL_TEXT, COL_UNCHANGED_TOAST, UNCHANGED_TOAST, type PgOutputMessage, type RelationColumn, type TupleValue } from './pgoutput-types';
import { describeByte } from './protocol-byte';
import { RawRowChange } from './raw-row-change';

// Message tags and tuple submessage / column kinds, as byte values.
const BEGIN = 0x42; // B
const COMMIT = 0x43; // C
const ORIGIN = 0x4f; // O
const RELATION = 0x52; // R
const TYPE = 0x59; // Y
const INSERT = 0x49; // I
const UPDATE = 0x55; // U
const DELETE = 0x44; // D
const TRUNCATE = 0x54; // T
const MESSAGE = 0x4d; // M

const KEY_TUPLE = 0x4b; // K
const OLD_TUPLE = 0x4f; // O
const NEW_TUPLE = 0x4e; // N

const TRUNCATE_CASCADE = 1;
const TRUNCATE_RESTART_IDENTITY = 2;
const MESSAGE_TRANSACTIONAL = 1;
const COLUMN_IS_KEY = 1;

/** What the reader holds between messages: no message's bytes. */
const EMPTY = Buffer.alloc(0);

/** Tags pgoutput only sends for options pgferry never sets. */
const NOT_REQUESTED: Record<string, string> = {
  S: 'stream start',
  E: 'stream stop',
  c: 'stream commit',
  A: 'stream abort',
  p: 'stream prepare',
  b: 'begin prepare',
  P: 'prepare',
  K: 'commit prepared',
  r: 'rollback prepared',
};

/**
 * Decodes one whole pgoutput message, payload[start, end) (an XLogData frame's `at` and `end`);
 * throws on unknown tags, truncation or trailing bytes.
 * `rowsAsBytes`: an insert, or an update that sent only its new row, comes back as a
 * RawRowChange (its row checked, kept as bytes; the change stream's choice) instead of values.
 */
export function decodePgOutput(payload: Buffer, rowsAsBytes = false, start = 0, end = payload.length): PgOutputMessage {
  if (end <= start) throw new Error('empty pgoutput message');
  const r = reader.reset(payload, start, end); // one reader for every message: decoding never nests
  try {
    const tag = r.u8();
    const message = rowsAsBytes && (tag === INSERT || tag === UPDATE) ? decodeRowAsBytes(r, tag) : decodeBody(r, tag);
    if (r.off !== end) {
      throw new Error(`pgoutput message ${describeByte(tag)} has ${end - r.off} unexpected trailing bytes (decoded ${r.off - start} of ${end - start})`);
    }
    return message;
  } finally {
    r.release(); // the reader outlives the message: it must not keep its bytes
  }
}

function decodeBody(r: Reader, tag: number): PgOutputMessage {
  switch (tag) {
    case BEGIN:
      return { tag: 'begin', finalLsn: r.u64(), commitTimeMicros: pgTimeToUnixMicros(r.i64()), xid: r.u32() };
    case COMMIT:
      return { tag: 'commit', flags: r.u8(), commitLsn: r.u64(), endLsn: r.u64(), commitTimeMicros: pgTimeToUnixMicros(r.i64()) };
    case ORIGIN:
      return { tag: 'origin', lsn: r.u64(), name: r.cstring() };
    case RELATION:
      return decodeRelation(r);
    case TYPE:
      return { tag: 'type', typeOid: r.u32(), schema: namespace(r.cstring()), name: r.cstring() };
    case INSERT: {
      const relationId = r.u32();
      r.expect(NEW_TUPLE, 'insert');
      return { tag: 'insert', relationId, newTuple: decodeTuple(r) };
    }
    case UPDATE:
      return decodeUpdate(r);
    case DELETE: {
      const relationId = r.u32();
      const kind = r.u8();
      if (kind !== KEY_TUPLE && kind !== OLD_TUPLE) throw new Error(`pgoutput delete: expected 'K' or 'O' tuple, got ${describeByte(kind)}`);
      return { tag: 'delete', relationId, oldKind: kind === KEY_TUPLE ? 'key' : 'old', oldTuple: decodeTuple(r) };
    }
    case TRUNCATE: {
      const count = r.u32();
      const options = r.u8();
      const relationIds = new Array<number>(count);
      for (let i = 0; i < count; i++) relationIds[i] = r.u32();
      return { tag: 'truncate', cascade: (options & TRUNCATE_CASCADE) !== 0, restartIdentity: (options & TRUNCATE_RESTART_IDENTITY) !== 0, relationIds };
    }
    case MESSAGE: {
      const flags = r.u8();
      const lsn = r.u64();
      const prefix = r.cstring();
      const content = r.bytes(r.u32());
      return { tag: 'message', transactional: (flags & MESSAGE_TRANSACTIONAL) !== 0, lsn, prefix, content };
    }
    default: {
      const what = NOT_REQUESTED[String.fromCharCode(tag)];
      if (what) {
        throw new Error(`unexpected pgoutput message ${describeByte(tag)} (${what}): pgferry does not request streaming or two-phase decoding (proto_version '1')`);
      }
      throw new Error(`unknown pgoutput message tag ${describeByte(tag)}`);
    }
  }
}

function decodeRelation(r: Reader): PgOutputMessage {
  const relationId = r.u32();
  const schema = namespace(r.cstring());
  const name = r.cstring();
  const identity = r.u8();
  if (identity !== 0x64 && identity !== 0x6e && identity !== 0x66 && identity !== 0x69) {
    throw new Error(`pgoutput relation ${schema}.${name}: unknown replica identity ${describeByte(identity)}`);
  }
  const count = r.u16();
  const columns = new Array<RelationColumn>(count);
  for (let i = 0; i < count; i++) {
    const flags = r.u8();
    columns[i] = { name: r.cstring(), isKey: (flags & COLUMN_IS_KEY) !== 0, typeOid: r.u32(), typeMod: r.i32() };
  }
  return { tag: 'relation', relationId, schema, name, replicaIdentity: String.fromCharCode(identity) as 'd' | 'n' | 'f' | 'i', columns };
}

/** An insert, or an update with only its new row, as a RawRowChange; other updates decoded as usual. */
function decodeRowAsBytes(r: Reader, tag: number): PgOutputMessage {
  if (r.buffer[r.off + 4] !== NEW_TUPLE) return decodeBody(r, tag); // the submessage after the relation id
  const relationId = r.u32();
  r.u8();
  const tupleAt = r.off;
  const complete = skipTuple(r);
  return new RawRowChange(tag === INSERT ? 'insert' : 'update', relationId, r.buffer, tupleAt, complete);
}

function decodeUpdate(r: Reader): PgOutputMessage {
  const relationId = r.u32();
  const kind = r.u8();
  if (kind === NEW_TUPLE) return { tag: 'update', relationId, newTuple: decodeTuple(r) };
  if (kind !== KEY_TUPLE && kind !== OLD_TUPLE) throw new Error(`pgoutput update: expected 'K', 'O' or 'N' tuple, got ${describeByte(kind)}`);
  const oldTuple = decodeTuple(r);
  r.expect(NEW_TUPLE, 'update');
  return { tag: 'update', relationId, oldKind: kind === KEY_TUPLE ? 'key' : 'old', oldTuple, newTuple: decodeTuple(r) };
}

function decodeTuple(r: Reader): TupleValue[] {
  const count = r.u16();
  const values = new Array<TupleValue>(count);
  for (let i = 0; i < count; i++) {
    const kind = r.u8();
    if (kind === COL_TEXT) values[i] = r.text(r.u32());
    else if (kind === COL_NULL) values[i] = null;
    // Not sent: the update's target must keep its current value (never write NULL for it).
    else if (kind === COL_UNCHANGED_TOAST) values[i] = UNCHANGED_TOAST;
    else badColumn(kind, i);
  }
  return values;
}

/** Checks a tuple as decodeTuple would, without making its values; true when no column is unchanged TOAST. */
function skipTuple(r: Reader): boolean {
  const count = r.u16();
  let complete = true;
  for (let i = 0; i < count; i++) {
    const kind = r.u8();
    if (kind === COL_TEXT) r.skip(r.u32());
    else if (kind === COL_UNCHANGED_TOAST) complete = false;
    else if (kind !== COL_NULL) badColumn(kind, i);
  }
  return complete;
}

function badColumn(kind: number, i: number): never {
  if (kind === COL_BINARY) throw new Error(`pgoutput tuple column ${i + 1} is in binary format: pgferry only requests text values`);
  throw new Error(`pgoutput tuple column ${i + 1} has unknown kind ${describeByte(kind)}`);
}

/** pgoutput sends an empty namespace for pg_catalog. */
function namespace(name: string): string {
  return name === '' ? 'pg_catalog' : name;
}

/** A cursor over one message; every read checks bounds so a short message fails clearly. */
class Reader {
  off = 0;
  private start = 0;
  private end = 0;
  private buf: Buffer = EMPTY;

  /** Lets go of the message's bytes. */
  release(): void {
    this.buf = EMPTY;
  }

  /** Starts reading the message buf[start, end). */
  reset(buf: Buffer, start: number, end: number): this {
    this.buf = buf;
    this.start = start;
    this.end = end;
    this.off = start;
    return this;
  }

  get buffer(): Buffer {
    return this.buf;
  }

  private need(n: number): number {
    const at = this.off;
    if (at + n > this.end) {
      throw new Error(`pgoutput message ${describeByte(this.buf[this.start])} is truncated: needs ${n} bytes at offset ${at - this.start}, has ${this.end - at}`);
    }
    this.off = at + n;
    return at;
  }

  u8(): number {
    return this.buf[this.need(1)];
  }
  u16(): number {
    return this.buf.readUInt16BE(this.need(2));
  }
  u32(): number {
    return this.buf.readUInt32BE(this.need(4));
  }
  i32(): number {
    return this.buf.readInt32BE(this.need(4));
  }
  u64(): bigint {
    return readUInt64BE(this.buf, this.need(8));
  }
  i64(): bigint {
    return readInt64BE(this.buf, this.need(8));
  }

  /** A NUL-terminated UTF-8 string. */
  cstring(): string {
    const start = this.off;
    const end = this.buf.indexOf(0, start);
    if (end < 0 || end >= this.end) throw new Error(`pgoutput message ${describeByte(this.buf[this.start])} is truncated: unterminated string at offset ${start - this.start}`);
    this.off = end + 1;
    return this.buf.toString('utf8', start, end);
  }

  text(length: number): string {
    const at = this.need(length);
    return this.buf.toString('utf8', at, at + length);
  }

  skip(length: number): void {
    this.need(length);
  }

  bytes(length: number): Buffer {
    const at = this.need(length);
    return this.buf.subarray(at, at + length);
  }

  expect(byte: number, what: string): void {
    const got = this.u8();
    if (got !== byte) throw new Error(`pgoutput ${what}: expected ${describeByte(byte)} tuple, got ${describeByte(got)}`);
  }
}

const reader = new Reader();
