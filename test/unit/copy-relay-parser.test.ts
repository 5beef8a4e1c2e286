// CopyOutRelay's message walking, fed by hand: which bytes it forwards, what it counts, and
// what it hands back to pg, however the socket cuts the byte stream. (The real-server test,
// test/copy-relay.test.ts, cannot choose where the socket cuts.)
import { EventEmitter } from 'node:events';
import { PassThrough, Writable } from 'node:stream';
import type { Connection } from 'pg';
import { describe, expect, it, vi } from 'vitest';
import { CopyInRelay, CopyOutRelay } from '../../activities/copy/copy-relay';
import { relayed } from '../../activities/copy/relay-garbage';

// Counts what the relay reports towards its garbage collection (relay-garbage.ts has its own test).
vi.mock('../../activities/copy/relay-garbage', () => ({ relayed: vi.fn() }));

function message(type: string, body: Buffer | string): Buffer {
  const payload = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const header = Buffer.alloc(5);
  header[0] = type.charCodeAt(0);
  header.writeUInt32BE(payload.length + 4, 1);
  return Buffer.concat([header, payload]);
}

/** A socket and pg's data handler, as pg's Connection has them. */
function fakeConnection() {
  const socket = new PassThrough();
  const toPg: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => toPg.push(chunk));
  const queries: string[] = [];
  const connection = Object.assign(new EventEmitter(), { stream: socket, query: (text: string) => queries.push(text), sendCopyFail: () => undefined });
  return { socket, toPg, queries, connection: connection as unknown as Connection };
}

const rows = [Buffer.from('1\talpha\n'), Buffer.alloc(70_000, 0x61), Buffer.from('\n'), Buffer.from('3\tgamma\n')];
const copyData = Buffer.concat(rows.map((r) => message('d', r)));
const closing = Buffer.concat([message('c', ''), message('C', 'COPY 4\0'), message('Z', 'I')]);

/** The whole server side of a COPY TO, with a NoticeResponse between two rows. */
function serverBytes(): Buffer {
  const first = message('d', rows[0]);
  const rest = Buffer.concat(rows.slice(1).map((r) => message('d', r)));
  return Buffer.concat([message('H', Buffer.from([0, 0, 1, 0, 0])), first, message('N', 'Snotice\0\0'), rest, closing]);
}

async function relayOut(bytes: Buffer, pieceSize: number) {
  const { socket, toPg, connection } = fakeConnection();
  const relay = new CopyOutRelay('COPY t TO STDOUT', false);
  relay.submit(connection);
  const forwarded: Buffer[] = [];
  relay.on('data', (chunk: Buffer) => forwarded.push(chunk));
  const ended = new Promise((r) => relay.on('end', r));
  for (let i = 0; i < bytes.length; i += pieceSize) socket.write(bytes.subarray(i, i + pieceSize));
  await ended;
  await new Promise((r) => setImmediate(r)); // the socket resumes on the next tick
  return { relay, forwarded: Buffer.concat(forwarded), toPg: Buffer.concat(toPg) };
}

describe('CopyOutRelay', () => {
  it.each([3, 1, 7, 64 * 1024])('forwards exactly the CopyData messages, cut every %i bytes', async (pieceSize) => {
    const { relay, forwarded, toPg } = await relayOut(serverBytes(), pieceSize);
    expect(forwarded.equals(copyData)).toBe(true);
    expect(relay.rows).toBe(4);
    expect(relay.bytes).toBe(rows.reduce((n, r) => n + r.length, 0));
    // pg gets the conversation back from CopyDone on
    expect(toPg.equals(closing)).toBe(true);
  });

  it('reports every byte it reads from the source socket towards the collection of spent chunks', async () => {
    vi.mocked(relayed).mockClear();
    await relayOut(serverBytes(), 1000);
    const reported = vi.mocked(relayed).mock.calls.reduce((n, [bytes]) => n + bytes, 0);
    // Everything up to CopyDone went through the relay; the rest went back to pg unread by it.
    expect(reported).toBeGreaterThanOrEqual(serverBytes().length - closing.length);
    expect(reported).toBeLessThanOrEqual(serverBytes().length);
  });

  it('hands an ErrorResponse to pg and forwards nothing after it', async () => {
    const { socket, toPg, connection } = fakeConnection();
    const relay = new CopyOutRelay('COPY t TO STDOUT', true);
    relay.submit(connection);
    const forwarded: Buffer[] = [];
    relay.on('data', (chunk: Buffer) => forwarded.push(chunk));
    const error = Buffer.concat([message('E', 'SERROR\0Mdivision by zero\0\0'), message('Z', 'E')]);
    const first = message('d', rows[0]);
    socket.write(Buffer.concat([message('H', Buffer.from([1, 0, 0])), first, error]));
    await new Promise((r) => setImmediate(r));
    expect(Buffer.concat(forwarded).equals(first)).toBe(true);
    expect(Buffer.concat(toPg).equals(error)).toBe(true);
  });
});

describe('CopyOutRelay over a query of several COPYs', () => {
  const second = [Buffer.from('7\tseven\n'), Buffer.from('8\teight\n')];
  /** Two copies: the first with the rows above (4), the second with these (2), a notice between. */
  function twoCopies(): Buffer {
    const copy = (data: Buffer[], count: number) =>
      Buffer.concat([message('H', Buffer.from([0, 0, 1, 0, 0])), ...data.map((r) => message('d', r)), message('c', ''), message('C', `COPY ${count}\0`)]);
    return Buffer.concat([copy(rows, 4), message('N', 'Snotice\0\0'), copy(second, 2), message('Z', 'T')]);
  }

  it.each([1, 3, 7, 64 * 1024])('forwards each copy with a CopyDone between them, cut every %i bytes', async (pieceSize) => {
    const { socket, toPg, connection } = fakeConnection();
    const relay = new CopyOutRelay('COPY a TO STDOUT; COPY b TO STDOUT', false, 2);
    const started: number[] = [];
    relay.on('copy', (i: number) => started.push(i));
    relay.submit(connection);
    const forwarded: Buffer[] = [];
    relay.on('data', (chunk: Buffer) => forwarded.push(chunk));
    const ended = new Promise((r) => relay.on('end', r));
    const bytes = twoCopies();
    for (let i = 0; i < bytes.length; i += pieceSize) socket.write(bytes.subarray(i, i + pieceSize));
    await ended;
    await new Promise((r) => setImmediate(r));
    // the target gets both tables' rows, the first ended by its CopyDone; the last CopyDone is the writer's
    expect(Buffer.concat(forwarded).equals(Buffer.concat([copyData, message('c', ''), ...second.map((r) => message('d', r))]))).toBe(true);
    expect(started).toEqual([0, 1]);
    expect(relay.finished.map((f) => [f.rows, f.bytes])).toEqual([
      [4, rows.reduce((n, r) => n + r.length, 0)],
      [2, second.reduce((n, r) => n + r.length, 0)],
    ]);
    // pg gets the conversation back from the last copy's CopyDone on, and says how many it sent
    expect(Buffer.concat(toPg).equals(Buffer.concat([message('c', ''), message('C', 'COPY 2\0'), message('Z', 'T')]))).toBe(true);
    relay.handleCommandComplete({ text: 'COPY 2' });
    relay.handleReadyForQuery();
    expect(await relay.sourceCounts).toEqual([4, 2]);
  });

  it('refuses counts when the query ended before all the copies it was said to hold', async () => {
    const { socket, toPg, connection } = fakeConnection();
    const relay = new CopyOutRelay('COPY a TO STDOUT', false, 2);
    relay.submit(connection);
    relay.resume();
    const ended = new Promise((r) => relay.on('end', r));
    socket.write(Buffer.concat([message('H', Buffer.from([0, 0, 0])), message('d', rows[0]), message('c', ''), message('C', 'COPY 1\0'), message('Z', 'T')]));
    await ended;
    await new Promise((r) => setImmediate(r));
    expect(Buffer.concat(toPg).equals(message('Z', 'T'))).toBe(true);
    relay.handleReadyForQuery();
    await expect(relay.sourceCounts).rejects.toThrow('1 counts for 2');
  });

  it('hands an ErrorResponse in the second copy to pg', async () => {
    const { socket, toPg, connection } = fakeConnection();
    const relay = new CopyOutRelay('COPY a TO STDOUT; COPY b TO STDOUT', true, 2);
    relay.submit(connection);
    const forwarded: Buffer[] = [];
    relay.on('data', (chunk: Buffer) => forwarded.push(chunk));
    const error = Buffer.concat([message('E', 'SERROR\0Mpermission denied\0\0'), message('Z', 'E')]);
    socket.write(Buffer.concat([message('H', Buffer.from([1, 0, 0])), message('d', rows[0]), message('d', Buffer.from([0xff, 0xff])), message('c', ''), message('C', 'COPY 1\0'), error]));
    await new Promise((r) => setImmediate(r));
    // the first table's rows and its end went through (the trailer is not a row); then pg has the error
    expect(Buffer.concat(forwarded).equals(Buffer.concat([message('d', rows[0]), message('d', Buffer.from([0xff, 0xff])), message('c', '')]))).toBe(true);
    expect(relay.finished.map((f) => f.rows)).toEqual([1]);
    expect(Buffer.concat(toPg).equals(error)).toBe(true);
  });
});

/** A socket that records each batch of bytes it is given to send (a corked socket sends one batch). */
function recordingConnection() {
  const batches: Buffer[] = [];
  const socket = new Writable({
    write(chunk: Buffer, _e, done) {
      batches.push(chunk);
      done();
    },
    writev(chunks, done) {
      batches.push(Buffer.concat(chunks.map((c) => c.chunk as Buffer)));
      done();
    },
  });
  const query = (text: string) => socket.write(Buffer.from(`Q${text}`));
  const connection = Object.assign(new EventEmitter(), { stream: socket, query, sendCopyFail: () => undefined });
  return { batches, connection: connection as unknown as Connection };
}

describe('CopyInRelay', () => {
  it("sends a small table's query, rows and CopyDone in one batch, without waiting for the server", async () => {
    const { batches, connection } = recordingConnection();
    const relay = new CopyInRelay('COPY t FROM STDIN');
    relay.submit(connection);
    const small = Buffer.concat([message('d', rows[0]), message('d', rows[2])]);
    relay.write(small.subarray(0, 5));
    relay.end(small.subarray(5));
    await new Promise((r) => setImmediate(r));
    expect(batches).toEqual([Buffer.concat([Buffer.from('QCOPY t FROM STDIN'), small, message('c', '')])]);
    const finished = new Promise((r) => relay.on('finish', r));
    relay.handleCommandComplete({ text: 'COPY 2' });
    relay.handleReadyForQuery();
    await finished;
    expect(relay.rowCounts).toEqual([2]);
  });

  it('lets a big table go once 16 KB are queued, then writes as the rows come', async () => {
    const { batches, connection } = recordingConnection();
    const relay = new CopyInRelay('COPY t FROM STDIN');
    relay.submit(connection);
    for (let i = 0; i < copyData.length; i += 1000) relay.write(copyData.subarray(i, i + 1000));
    await new Promise((r) => setImmediate(r));
    expect(batches.length).toBeGreaterThan(1);
    expect(batches[0].length).toBeGreaterThanOrEqual(16 * 1024);
    relay.end();
    await new Promise((r) => setImmediate(r));
    expect(Buffer.concat(batches).equals(Buffer.concat([Buffer.from('QCOPY t FROM STDIN'), copyData, message('c', '')]))).toBe(true);
  });
});
