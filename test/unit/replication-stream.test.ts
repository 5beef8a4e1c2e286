// ReplicationStream's parsing of the CopyBoth stream, over an in-memory socket standing in for
// node-postgres' connection: frames however the bytes are cut, the messages it skips, and the
// hand-back of the socket (with the unread bytes, exactly) at an error or at the end of the copy.
// test/pgoutput-live.test.ts runs it against a real server.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ReplicationStream } from '../../activities/stream/replication-stream';

function message(type: string, body: Buffer | string = Buffer.alloc(0)): Buffer {
  const payload = typeof body === 'string' ? Buffer.from(body) : body;
  const head = Buffer.alloc(5);
  head.write(type, 0);
  head.writeUInt32BE(4 + payload.length, 1);
  return Buffer.concat([head, payload]);
}

const copyData = (body: Buffer | string) => message('d', body);
const COPY_BOTH_RESPONSE = message('W', Buffer.from([0, 0, 0]));

/** A socket whose bytes we feed, with node-postgres' parser as its one 'data' listener. */
function connection() {
  const socket = new PassThrough();
  const toParser: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => toParser.push(chunk));
  const sent: string[] = [];
  const written: Buffer[] = [];
  const originalWrite = socket.write.bind(socket);
  socket.write = ((chunk: Buffer) => {
    written.push(Buffer.from(chunk));
    return true;
  }) as typeof socket.write;
  return { socket, toParser, sent, written, feed: (b: Buffer) => originalWrite(b), query: (text: string) => sent.push(text) };
}

function start() {
  const conn = connection();
  const stream = new ReplicationStream('START_REPLICATION SLOT s LOGICAL 0/0');
  stream.submit({ stream: conn.socket, query: conn.query } as never);
  return { conn, stream };
}

/** The next frame that is there now, as text (null: none). */
function readOne(stream: ReplicationStream): string | null {
  return stream.next() ? stream.frameBuf.toString('utf8', stream.frameStart, stream.frameEnd) : null;
}

/** Reads every frame that is there now. */
function drain(stream: ReplicationStream): string[] {
  const out: string[] = [];
  for (let f = readOne(stream); f !== null; f = readOne(stream)) out.push(f);
  return out;
}

const tick = () => new Promise((r) => setImmediate(r));

describe('ReplicationStream', () => {
  it('sends the command and hands out each CopyData payload however the bytes are cut', async () => {
    const frames = ['w-first', 'k', '', 'x'.repeat(150_000), 'w-last']; // one spans chunks of 64 KiB
    const bytes = Buffer.concat([COPY_BOTH_RESPONSE, message('S', 'a\0b\0'), ...frames.map((f, i) => (i === 2 ? message('N', 'notice') : copyData(f))), copyData(frames[2])]);
    const expected = [frames[0], frames[1], frames[3], frames[4], frames[2]];
    for (const cut of [3, 7, 4096, 65_536, bytes.length]) {
      const { conn, stream } = start();
      expect(conn.sent).toEqual(['START_REPLICATION SLOT s LOGICAL 0/0']);
      const got: string[] = [];
      for (let at = 0; at < bytes.length; at += cut) {
        conn.feed(bytes.subarray(at, at + cut));
        await tick();
        got.push(...drain(stream));
      }
      expect(got).toEqual(expected);
      expect(conn.toParser).toEqual([]); // node-postgres saw none of it
    }
  });

  it('hands out the same payloads in place with next(), in the bytes they were received in', async () => {
    const frames = ['w-first', 'k', 'x'.repeat(150_000), 'w-last']; // one spans chunks of 64 KiB
    const bytes = Buffer.concat([COPY_BOTH_RESPONSE, ...frames.map(copyData)]);
    for (const cut of [3, 4096, 65_536, bytes.length]) {
      const { conn, stream } = start();
      const got: string[] = [];
      const chunks = new Set<Buffer>();
      for (let at = 0; at < bytes.length; at += cut) {
        conn.feed(bytes.subarray(at, at + cut));
        await tick();
        while (stream.next()) {
          got.push(stream.frameBuf.toString('utf8', stream.frameStart, stream.frameEnd));
          chunks.add(stream.frameBuf);
        }
      }
      expect(got).toEqual(frames);
      // whole chunks: several frames share one when the bytes came together
      if (cut === bytes.length) expect(chunks.size).toBe(1);
    }
  });

  it('copies a frame cut at the end of a chunk alone, and reads on in place in the chunk that completed it', async () => {
    const { conn, stream } = start();
    const two = copyData('two');
    // Each in memory of its own (Buffer.alloc is never pooled), to tell where a frame was read.
    const unpooled = (parts: Buffer[]) => {
      const joined = Buffer.concat(parts);
      const out = Buffer.alloc(joined.length);
      joined.copy(out);
      return out;
    };
    const a = unpooled([COPY_BOTH_RESPONSE, copyData('one'), two.subarray(0, 6)]);
    const b = unpooled([two.subarray(6), copyData('three'), copyData('four')]);
    const seen: Array<{ text: string; buf: Buffer }> = [];
    for (const chunk of [a, b]) {
      conn.feed(chunk);
      await tick();
      while (stream.next()) seen.push({ text: stream.frameBuf.toString('utf8', stream.frameStart, stream.frameEnd), buf: stream.frameBuf });
    }
    expect(seen.map((f) => f.text)).toEqual(['one', 'two', 'three', 'four']);
    expect(seen[0].buf.buffer).toBe(a.buffer);
    expect(seen[1].buf.length).toBe(two.length); // the cut frame, and nothing of what followed it
    expect(seen[2].buf.buffer).toBe(b.buffer);
    expect(seen[3].buf.buffer).toBe(b.buffer);
  });

  it("says 'readable' when bytes arrive, and keeps the frames it has not handed out", async () => {
    const { conn, stream } = start();
    let readable = 0;
    stream.on('readable', () => (readable += 1));
    conn.feed(Buffer.concat([COPY_BOTH_RESPONSE, copyData('one'), copyData('two')]));
    await tick();
    expect(readable).toBeGreaterThan(0);
    expect(readOne(stream)).toBe('one');
    conn.feed(copyData('three'));
    await tick();
    expect(drain(stream)).toEqual(['two', 'three']);
  });

  it('holds status updates until the copy starts, then sends them as CopyData', async () => {
    const { conn, stream } = start();
    stream.write(Buffer.from('early'));
    expect(conn.written).toEqual([]);
    conn.feed(COPY_BOTH_RESPONSE);
    await tick();
    drain(stream);
    stream.write(Buffer.from('later'));
    expect(conn.written).toEqual([copyData('early'), copyData('later')]);
    stream.end();
    expect(conn.written.at(-1)).toEqual(Buffer.from([0x63, 0, 0, 0, 4]));
  });

  it('hands an ErrorResponse and everything after it back to node-postgres, unread', async () => {
    const { conn, stream } = start();
    const error = message('E', 'SERROR\0Mreplication slot "s" is active\0\0');
    const ready = message('Z', 'I');
    conn.feed(Buffer.concat([COPY_BOTH_RESPONSE, copyData('before'), error, ready.subarray(0, 2)]));
    await tick();
    expect(drain(stream)).toEqual(['before']);
    expect(Buffer.concat(conn.toParser)).toEqual(Buffer.concat([error, ready.subarray(0, 2)]));
    conn.feed(ready.subarray(2)); // later bytes go to node-postgres' listener again
    await tick();
    await tick();
    expect(Buffer.concat(conn.toParser)).toEqual(Buffer.concat([error, ready]));
    expect(readOne(stream)).toBeNull();
  });

  it("ends at the server's CopyDone and hands back what follows it", async () => {
    const { conn, stream } = start();
    let ended = false;
    stream.on('end', () => (ended = true));
    const after = Buffer.concat([message('C', 'COPY 0\0'), message('Z', 'I')]);
    conn.feed(Buffer.concat([COPY_BOTH_RESPONSE, copyData('last'), message('c'), after]));
    await tick();
    expect(drain(stream)).toEqual(['last']);
    expect(ended).toBe(true);
    expect(Buffer.concat(conn.toParser)).toEqual(after);
    expect(readOne(stream)).toBeNull(); // nothing more, ever
  });

  it("says it is full while Node holds the socket's high-water mark of unread bytes (FrameReader reads those at once)", async () => {
    const { conn, stream } = start();
    conn.feed(COPY_BOTH_RESPONSE);
    await tick();
    expect(drain(stream)).toEqual([]);
    conn.feed(copyData('a trickle'));
    await tick();
    expect(stream.full).toBe(false);
    conn.feed(copyData('x'.repeat(conn.socket.readableHighWaterMark)));
    await tick();
    expect(stream.full).toBe(true);
    expect(drain(stream)).toHaveLength(2);
    expect(stream.full).toBe(false);
  });

  it('reports node-postgres errors (a failed query, a dropped connection) as error events', () => {
    const { stream } = start();
    const errors: string[] = [];
    stream.on('error', (err: Error) => errors.push(err.message));
    stream.handleError(new Error('Connection terminated unexpectedly'));
    expect(errors).toEqual(['Connection terminated unexpectedly']);
  });
});
