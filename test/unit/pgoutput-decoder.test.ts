import { describe, expect, it } from 'vitest';
import { PG_EPOCH_MICROS } from '../../common/lsn';
import { decodePgOutput } from '../../activities/stream/pgoutput-decoder';
import { UNCHANGED_TOAST, XLOG_DATA_HEADER, type TupleValue } from '../../activities/stream/pgoutput-types';
import { RawRowChange } from '../../activities/stream/raw-row-change';
import { binaryTextArray, TextArrayBuilder } from '../../activities/stream/binary-text-array';

/** Builds pgoutput messages byte by byte, the way proto.c writes them. */
class Msg {
  private parts: Buffer[] = [];
  constructor(tag: string) {
    this.byte(tag);
  }
  byte(v: string | number): this {
    this.parts.push(Buffer.from([typeof v === 'string' ? v.charCodeAt(0) : v]));
    return this;
  }
  int16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    this.parts.push(b);
    return this;
  }
  int32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    this.parts.push(b);
    return this;
  }
  uint32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v);
    this.parts.push(b);
    return this;
  }
  int64(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(v);
    this.parts.push(b);
    return this;
  }
  uint64(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(v);
    this.parts.push(b);
    return this;
  }
  cstring(s: string): this {
    this.parts.push(Buffer.from(s, 'utf8'), Buffer.from([0]));
    return this;
  }
  raw(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  /** TupleData: null → `n`, UNCHANGED_TOAST → `u`, string → `t` + length + UTF-8 bytes. */
  tuple(values: TupleValue[]): this {
    this.int16(values.length);
    for (const v of values) {
      if (v === null) this.byte('n');
      else if (v === UNCHANGED_TOAST) this.byte('u');
      else {
        const bytes = Buffer.from(v, 'utf8');
        this.byte('t').int32(bytes.length).raw(bytes);
      }
    }
    return this;
  }
  build(): Buffer {
    return Buffer.concat(this.parts);
  }
}

// 2026-01-02T03:04:05.678901Z in both epochs.
const UNIX_MICROS = BigInt(Date.parse('2026-01-02T03:04:05.678Z')) * 1000n + 901n;
const PG_MICROS = UNIX_MICROS - 946_684_800_000_000n;
const LSN_HIGH = 0x16_b374d848n; // above 2^32
const LSN_HIGHER = 0x7fff_ffff_ffff_fff0n; // near 2^63
const UTF8 = 'héllo ☃ 🚀 日本語';

describe('decodePgOutput', () => {
  it('decodes Begin with a Unix-epoch commit time and an unsigned xid', () => {
    const msg = decodePgOutput(new Msg('B').uint64(LSN_HIGH).int64(PG_MICROS).uint32(0xfffffffe).build());
    expect(msg).toEqual({ tag: 'begin', finalLsn: LSN_HIGH, commitTimeMicros: UNIX_MICROS, xid: 4294967294 });
    expect(PG_MICROS + PG_EPOCH_MICROS).toBe(UNIX_MICROS);
  });

  it('decodes Commit', () => {
    const msg = decodePgOutput(new Msg('C').byte(0).uint64(LSN_HIGH).uint64(LSN_HIGHER).int64(PG_MICROS).build());
    expect(msg).toEqual({ tag: 'commit', flags: 0, commitLsn: LSN_HIGH, endLsn: LSN_HIGHER, commitTimeMicros: UNIX_MICROS });
  });

  it('decodes a commit time before 2000 (negative protocol time)', () => {
    const msg = decodePgOutput(new Msg('C').byte(0).uint64(1n).uint64(2n).int64(-1_000_000n).build());
    expect(msg).toMatchObject({ commitTimeMicros: 946_684_799_000_000n });
  });

  it('decodes Origin', () => {
    const msg = decodePgOutput(new Msg('O').uint64(0xabcdefn).cstring('upstream').build());
    expect(msg).toEqual({ tag: 'origin', lsn: 0xabcdefn, name: 'upstream' });
  });

  it('decodes Relation with key flags, type OIDs and typmods', () => {
    const buf = new Msg('R')
      .uint32(0xfffffff0)
      .cstring('shöp')
      .cstring('order items')
      .byte('f')
      .int16(3)
      .byte(1).cstring('id').uint32(20).int32(-1)
      .byte(0).cstring('name').uint32(1043).int32(68)
      .byte(0).cstring('note').uint32(70000).int32(-1)
      .build();
    expect(decodePgOutput(buf)).toEqual({
      tag: 'relation',
      relationId: 0xfffffff0,
      schema: 'shöp',
      name: 'order items',
      replicaIdentity: 'f',
      columns: [
        { name: 'id', isKey: true, typeOid: 20, typeMod: -1 },
        { name: 'name', isKey: false, typeOid: 1043, typeMod: 68 },
        { name: 'note', isKey: false, typeOid: 70000, typeMod: -1 },
      ],
    });
  });

  it('maps the empty namespace pgoutput sends for pg_catalog', () => {
    const msg = decodePgOutput(new Msg('R').uint32(1).cstring('').cstring('t').byte('d').int16(0).build());
    expect(msg).toMatchObject({ schema: 'pg_catalog', name: 't', replicaIdentity: 'd', columns: [] });
  });

  it('decodes Type', () => {
    const msg = decodePgOutput(new Msg('Y').uint32(16390).cstring('public').cstring('mood').build());
    expect(msg).toEqual({ tag: 'type', typeOid: 16390, schema: 'public', name: 'mood' });
  });

  it('decodes Insert with null, unchanged-TOAST, empty and multi-byte UTF-8 text columns', () => {
    const buf = new Msg('I').uint32(16384).byte('N').tuple(['42', null, UNCHANGED_TOAST, '', UTF8]).build();
    const msg = decodePgOutput(buf);
    expect(msg).toEqual({ tag: 'insert', relationId: 16384, newTuple: ['42', null, UNCHANGED_TOAST, '', UTF8] });
    if (msg.tag !== 'insert') throw new Error('not an insert');
    expect(msg.newTuple[2]).toBe(UNCHANGED_TOAST);
    expect(Buffer.byteLength(msg.newTuple[4] as string)).toBe(25);
  });

  it('decodes text from its UTF-8 bytes (2-, 3- and 4-byte sequences)', () => {
    const bytes = Buffer.from('c3a9e29883f09f9a80', 'hex'); // é ☃ 🚀
    const msg = decodePgOutput(new Msg('I').uint32(1).byte('N').int16(1).byte('t').int32(bytes.length).raw(bytes).build());
    expect(msg).toMatchObject({ newTuple: ['\u00e9\u2603\u{1F680}'] });
  });

  it('decodes a large text value whole', () => {
    const big = 'x'.repeat(2_000_000) + '€';
    const msg = decodePgOutput(new Msg('I').uint32(1).byte('N').tuple([big]).build());
    expect(msg).toMatchObject({ newTuple: [big] });
  });

  it('decodes Update without an old tuple', () => {
    const msg = decodePgOutput(new Msg('U').uint32(7).byte('N').tuple(['1', 'renamed', UNCHANGED_TOAST]).build());
    expect(msg).toEqual({ tag: 'update', relationId: 7, newTuple: ['1', 'renamed', UNCHANGED_TOAST] });
    expect(msg).not.toHaveProperty('oldTuple');
  });

  it('decodes Update with a changed key (K)', () => {
    const buf = new Msg('U').uint32(7).byte('K').tuple(['1', null, null]).byte('N').tuple(['2', 'renamed', UNCHANGED_TOAST]).build();
    expect(decodePgOutput(buf)).toEqual({ tag: 'update', relationId: 7, oldKind: 'key', oldTuple: ['1', null, null], newTuple: ['2', 'renamed', UNCHANGED_TOAST] });
  });

  it('decodes Update with the whole old row (O, REPLICA IDENTITY FULL)', () => {
    const buf = new Msg('U').uint32(8).byte('O').tuple(['a', '1', null]).byte('N').tuple(['a', '2', null]).build();
    expect(decodePgOutput(buf)).toEqual({ tag: 'update', relationId: 8, oldKind: 'old', oldTuple: ['a', '1', null], newTuple: ['a', '2', null] });
  });

  it('decodes Delete with K and with O', () => {
    expect(decodePgOutput(new Msg('D').uint32(7).byte('K').tuple(['2', null, null]).build())).toEqual({ tag: 'delete', relationId: 7, oldKind: 'key', oldTuple: ['2', null, null] });
    expect(decodePgOutput(new Msg('D').uint32(8).byte('O').tuple(['a', '2', UTF8]).build())).toEqual({ tag: 'delete', relationId: 8, oldKind: 'old', oldTuple: ['a', '2', UTF8] });
  });

  it('decodes Truncate option bits and relation ids', () => {
    const truncate = (options: number) => decodePgOutput(new Msg('T').uint32(3).byte(options).uint32(16384).uint32(16390).uint32(0xffffffff).build());
    expect(truncate(0)).toEqual({ tag: 'truncate', cascade: false, restartIdentity: false, relationIds: [16384, 16390, 4294967295] });
    expect(truncate(1)).toMatchObject({ cascade: true, restartIdentity: false });
    expect(truncate(2)).toMatchObject({ cascade: false, restartIdentity: true });
    expect(truncate(3)).toMatchObject({ cascade: true, restartIdentity: true });
  });

  it('decodes transactional and non-transactional logical messages', () => {
    const content = Buffer.from([0, 1, 2, 0xff, 0x68, 0x69]);
    const msg = decodePgOutput(new Msg('M').byte(1).uint64(LSN_HIGH).cstring('pgferry').int32(content.length).raw(content).build());
    expect(msg).toEqual({ tag: 'message', transactional: true, lsn: LSN_HIGH, prefix: 'pgferry', content });
    const plain = decodePgOutput(new Msg('M').byte(0).uint64(5n).cstring('pgferry').int32(5).raw(Buffer.from('hello')).build());
    expect(plain).toMatchObject({ transactional: false, lsn: 5n, prefix: 'pgferry' });
    if (plain.tag !== 'message') throw new Error('not a message');
    expect(plain.content.toString()).toBe('hello');
  });

  describe('errors', () => {
    it('names unknown tags', () => {
      expect(() => decodePgOutput(Buffer.from('Zjunk'))).toThrow(/unknown pgoutput message tag 'Z' \(0x5a\)/);
      expect(() => decodePgOutput(Buffer.from([0x01]))).toThrow(/unknown pgoutput message tag 0x01/);
      expect(() => decodePgOutput(Buffer.alloc(0))).toThrow(/empty pgoutput message/);
    });

    it('says streaming and two-phase messages are not requested', () => {
      for (const tag of ['S', 'E', 'c', 'A']) {
        expect(() => decodePgOutput(new Msg(tag).uint32(1).build())).toThrow(new RegExp(`'${tag}'.*does not request streaming`));
      }
      expect(() => decodePgOutput(new Msg('P').build())).toThrow(/'P' \(0x50\) \(prepare\)/);
    });

    it('rejects binary tuple values and unknown column kinds', () => {
      const binary = new Msg('I').uint32(1).byte('N').int16(2).byte('n').byte('b').int32(1).byte(7).build();
      expect(() => decodePgOutput(binary)).toThrow(/column 2 is in binary format/);
      const unknown = new Msg('I').uint32(1).byte('N').int16(1).byte('x').build();
      expect(() => decodePgOutput(unknown)).toThrow(/column 1 has unknown kind 'x'/);
    });

    it('rejects misplaced tuple submessages', () => {
      expect(() => decodePgOutput(new Msg('I').uint32(1).byte('K').tuple(['1']).build())).toThrow(/insert: expected 'N'.*got 'K'/);
      expect(() => decodePgOutput(new Msg('U').uint32(1).byte('X').build())).toThrow(/update: expected 'K', 'O' or 'N'/);
      expect(() => decodePgOutput(new Msg('U').uint32(1).byte('K').tuple(['1']).byte('K').tuple(['2']).build())).toThrow(/update: expected 'N'/);
      expect(() => decodePgOutput(new Msg('D').uint32(1).byte('N').tuple(['1']).build())).toThrow(/delete: expected 'K' or 'O'/);
    });

    it('rejects truncated messages, unterminated strings and trailing bytes', () => {
      expect(() => decodePgOutput(new Msg('B').uint64(1n).build())).toThrow(/'B'.*truncated: needs 8 bytes at offset 9, has 0/);
      expect(() => decodePgOutput(new Msg('I').uint32(1).byte('N').int16(1).byte('t').int32(10).raw(Buffer.from('abc')).build())).toThrow(/truncated: needs 10 bytes/);
      expect(() => decodePgOutput(new Msg('O').uint64(1n).raw(Buffer.from('no-nul')).build())).toThrow(/unterminated string/);
      expect(() => decodePgOutput(new Msg('O').uint64(1n).cstring('x').byte(0).build())).toThrow(/1 unexpected trailing bytes/);
    });

    it('rejects an unknown replica identity', () => {
      expect(() => decodePgOutput(new Msg('R').uint32(1).cstring('s').cstring('t').byte('q').int16(0).build())).toThrow(/s\.t: unknown replica identity 'q'/);
    });
  });
});

describe('decodePgOutput with rows kept as bytes (the change stream)', () => {
  const values: TupleValue[] = ['42', null, '', UTF8, 'x'.repeat(70_000)];

  it('keeps an insert and an update with only its new row as bytes, and decodes them to the same values on demand', () => {
    const insert = decodePgOutput(new Msg('I').uint32(16384).byte('N').tuple(values).build(), true);
    expect(insert).toBeInstanceOf(RawRowChange);
    expect(insert).toMatchObject({ tag: 'insert', relationId: 16384, newTuple: values });
    const update = decodePgOutput(new Msg('U').uint32(7).byte('N').tuple(['1', 'renamed', UNCHANGED_TOAST]).build(), true);
    expect(update).toBeInstanceOf(RawRowChange);
    expect(update).toMatchObject({ tag: 'update', relationId: 7, newTuple: ['1', 'renamed', UNCHANGED_TOAST] });
    expect((update as RawRowChange).complete).toBe(false);
    expect((insert as RawRowChange).complete).toBe(true);
  });

  it('reads single columns and copies a row into binary arrays byte for byte', () => {
    const row = decodePgOutput(new Msg('I').uint32(1).byte('N').tuple(values).build(), true) as RawRowChange;
    expect(row.columnCount).toBe(5);
    expect([0, 1, 2, 3].map((c) => row.value(c))).toEqual(values.slice(0, 4));
    const builders = values.map(() => new TextArrayBuilder(4));
    row.appendTo([builders[0], undefined, builders[2], builders[3], builders[4]]);
    expect(builders[0].finish().equals(binaryTextArray(['42']))).toBe(true);
    expect(builders[1].finish().equals(binaryTextArray([]))).toBe(true); // left out
    expect(builders[3].finish().equals(binaryTextArray([UTF8]))).toBe(true);
    expect(builders[4].finish().equals(binaryTextArray([values[4] as string]))).toBe(true);
    const nulls = new TextArrayBuilder();
    (decodePgOutput(new Msg('I').uint32(1).byte('N').tuple([null]).build(), true) as RawRowChange).appendTo([nulls]);
    expect(nulls.finish().equals(binaryTextArray([null]))).toBe(true);
  });

  it('decodes updates with an old row and deletes as values, as without the option', () => {
    const keyChange = new Msg('U').uint32(7).byte('K').tuple(['1', null]).byte('N').tuple(['2', 'b']).build();
    expect(decodePgOutput(keyChange, true)).toEqual(decodePgOutput(keyChange));
    expect(decodePgOutput(keyChange, true)).not.toBeInstanceOf(RawRowChange);
    const del = new Msg('D').uint32(7).byte('K').tuple(['2', null]).build();
    expect(decodePgOutput(del, true)).toEqual(decodePgOutput(del));
  });

  it('rejects the malformed rows the value decoder rejects, with the same messages', () => {
    const binary = new Msg('I').uint32(1).byte('N').int16(2).byte('n').byte('b').int32(1).byte(7).build();
    expect(() => decodePgOutput(binary, true)).toThrow(/column 2 is in binary format/);
    expect(() => decodePgOutput(new Msg('I').uint32(1).byte('N').int16(1).byte('x').build(), true)).toThrow(/column 1 has unknown kind 'x'/);
    expect(() => decodePgOutput(new Msg('I').uint32(1).byte('N').int16(1).byte('t').int32(10).raw(Buffer.from('abc')).build(), true)).toThrow(/truncated: needs 10 bytes/);
    expect(() => decodePgOutput(new Msg('I').uint32(1).byte('N').tuple(['1']).byte(0).build(), true)).toThrow(/1 unexpected trailing bytes/);
    expect(() => decodePgOutput(new Msg('I').uint32(1).byte('K').tuple(['1']).build(), true)).toThrow(/insert: expected 'N'.*got 'K'/);
  });
});

describe('decodePgOutput of a message inside a frame (from an offset)', () => {
  const header = Buffer.from('w'.padEnd(XLOG_DATA_HEADER, '\u0001'));
  const framed = (message: Buffer) => Buffer.concat([header, message]);

  it('decodes every kind of message the same from its frame as on its own', () => {
    const messages = [
      new Msg('B').uint64(LSN_HIGH).int64(PG_MICROS).uint32(7).build(),
      new Msg('C').byte(0).uint64(1n).uint64(2n).int64(PG_MICROS).build(),
      new Msg('R').uint32(1).cstring('').cstring('t').byte('d').int16(0).build(),
      new Msg('U').uint32(7).byte('K').tuple(['1', null]).byte('N').tuple(['2', 'b']).build(),
      new Msg('D').uint32(7).byte('K').tuple(['2', null]).build(),
      new Msg('M').byte(1).uint64(LSN_HIGH).cstring('pgferry').int32(3).raw(Buffer.from('abc')).build(),
    ];
    for (const m of messages) expect(decodePgOutput(framed(m), false, XLOG_DATA_HEADER)).toEqual(decodePgOutput(m));
  });

  it('keeps a row as bytes of the frame, read from where the message starts', () => {
    const values: TupleValue[] = ['42', null, UTF8];
    const row = decodePgOutput(framed(new Msg('I').uint32(9).byte('N').tuple(values).build()), true, XLOG_DATA_HEADER) as RawRowChange;
    expect(row).toBeInstanceOf(RawRowChange);
    expect(row).toMatchObject({ tag: 'insert', relationId: 9, newTuple: values });
    expect([0, 1, 2].map((c) => row.value(c))).toEqual(values);
  });

  it('reports truncation and trailing bytes with offsets in the message, not the frame', () => {
    expect(() => decodePgOutput(framed(new Msg('B').uint64(1n).build()), false, XLOG_DATA_HEADER)).toThrow(/'B'.*truncated: needs 8 bytes at offset 9, has 0/);
    expect(() => decodePgOutput(framed(new Msg('O').uint64(1n).cstring('x').byte(0).build()), false, XLOG_DATA_HEADER)).toThrow(/1 unexpected trailing bytes \(decoded 11 of 12\)/);
    expect(() => decodePgOutput(header, false, XLOG_DATA_HEADER)).toThrow(/empty pgoutput message/);
  });

  it('reads nothing past the end of its message, though the bytes go on (the next frame)', () => {
    const values: TupleValue[] = ['1', 'two'];
    const insert = new Msg('I').uint32(9).byte('N').tuple(values).build();
    const next = new Msg('C').byte(0).uint64(1n).uint64(2n).int64(0n).build();
    const chunk = Buffer.concat([header, insert, next]);
    const end = XLOG_DATA_HEADER + insert.length;
    const row = decodePgOutput(chunk, true, XLOG_DATA_HEADER, end) as RawRowChange;
    expect(row.newTuple).toEqual(values);
    expect(decodePgOutput(chunk, false, XLOG_DATA_HEADER, end)).toEqual({ tag: 'insert', relationId: 9, newTuple: values });
    // cut short inside the row: truncated, although the following bytes could be read
    expect(() => decodePgOutput(chunk, true, XLOG_DATA_HEADER, end - 2)).toThrow(/truncated: needs 3 bytes/);
    expect(() => decodePgOutput(chunk, false, XLOG_DATA_HEADER, end - 2)).toThrow(/truncated: needs 3 bytes/);
    // a string whose NUL lies past the end is unterminated
    const origin = new Msg('O').uint64(1n).cstring('name').build();
    const withOrigin = Buffer.concat([origin, next]);
    expect(() => decodePgOutput(withOrigin, false, 0, origin.length - 1)).toThrow(/unterminated string/);
  });

  it('decodes the next message cleanly after one that failed half way', () => {
    expect(() => decodePgOutput(framed(new Msg('I').uint32(1).byte('N').int16(1).byte('t').int32(10).build()), true, XLOG_DATA_HEADER)).toThrow(/truncated/);
    expect(decodePgOutput(new Msg('D').uint32(7).byte('K').tuple(['2']).build())).toEqual({ tag: 'delete', relationId: 7, oldKind: 'key', oldTuple: ['2'] });
  });
});
