import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { FrameReader } from '../../activities/stream/frame-reader';
import { frameSourceOf } from '../support/frame-source';

function keepalive(walEnd: bigint): Buffer {
  const b = Buffer.alloc(18);
  b.write('k', 0);
  b.writeBigUInt64BE(walEnd, 1);
  b.writeBigUInt64BE(0n, 9);
  b.writeUInt8(0, 17);
  return b;
}

/** The stream loop's way of reading: a frame at once if one is there, else wait, then look again. */
async function next(reader: FrameReader, timeoutMs: number) {
  const ready = reader.take();
  if (ready) return ready;
  await reader.wait(timeoutMs);
  return reader.take();
}

describe('FrameReader', () => {
  it('returns buffered frames one by one, in order', async () => {
    const stream = new PassThrough({ objectMode: true });
    const reader = new FrameReader(frameSourceOf(stream));
    stream.write(keepalive(1n));
    stream.write(keepalive(2n));
    expect(await next(reader, 100)).toMatchObject({ kind: 'keepalive', walEnd: 1n });
    expect(await next(reader, 100)).toMatchObject({ kind: 'keepalive', walEnd: 2n });
  });

  it('takes frames in place, in the bytes its source received them in (ReplicationStream), never as buffers of their own', async () => {
    const xlog = Buffer.concat([Buffer.from('w'), Buffer.alloc(24), Buffer.from('message')]);
    const bytes = Buffer.concat([keepalive(3n), xlog]);
    const frames = [
      [0, 18],
      [18, bytes.length],
    ];
    const source = Object.assign(new EventEmitter(), {
      full: false,
      frameBuf: bytes,
      frameStart: 0,
      frameEnd: 0,
      next() {
        const f = frames.shift();
        if (!f) return false;
        [this.frameStart, this.frameEnd] = f;
        return true;
      },
    });
    const reader = new FrameReader(source);
    expect(reader.take()).toMatchObject({ kind: 'keepalive', walEnd: 3n });
    const frame = reader.take();
    expect(frame).toMatchObject({ kind: 'xlogdata', at: 18 + 25, end: bytes.length });
    expect(frame?.kind === 'xlogdata' && frame.data).toBe(bytes);
    expect(reader.take()).toBeUndefined();
  });

  it('gives up after the time limit when nothing arrives, and wakes up as soon as a frame does', async () => {
    const stream = new PassThrough({ objectMode: true });
    const reader = new FrameReader(frameSourceOf(stream));
    const started = Date.now();
    expect(await next(reader, 50)).toBeUndefined();
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    setTimeout(() => stream.write(keepalive(7n)), 20);
    const waitStarted = Date.now();
    expect(await next(reader, 5_000)).toMatchObject({ walEnd: 7n });
    expect(Date.now() - waitStarted).toBeLessThan(1_000);
  });

  it('resumes a wait from the event loop, not from inside the readable event, so other sockets get read in between', async () => {
    const stream = new PassThrough({ objectMode: true });
    const reader = new FrameReader(frameSourceOf(stream));
    let resumed = false;
    const waiting = reader.wait(5_000).then(() => (resumed = true));
    stream.write(keepalive(1n));
    // The 'readable' event and every tick and microtask after it have run: still waiting.
    await new Promise((r) => process.nextTick(r));
    for (let i = 0; i < 10; i += 1) await Promise.resolve();
    expect(resumed).toBe(false);
    await waiting; // the next turn of the event loop, after its I/O
    expect(resumed).toBe(true);
    expect(reader.take()).toMatchObject({ walEnd: 1n });
  });

  it('lets data gather for a moment after it starts arriving, so a caught-up stream reads many messages at a time', async () => {
    const stream = new PassThrough({ objectMode: true });
    const reader = new FrameReader(frameSourceOf(stream), 40);
    const started = Date.now();
    const waiting = reader.wait(5_000);
    stream.write(keepalive(1n));
    setTimeout(() => stream.write(keepalive(2n)), 10); // arrives while the first one waits to be read
    await waiting;
    expect(Date.now() - started).toBeGreaterThanOrEqual(35);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(reader.take()).toMatchObject({ walEnd: 1n });
    expect(reader.take()).toMatchObject({ walEnd: 2n }); // both read in one go
  });

  it('reads a full read-ahead at once: the source is ahead, and waiting would gather nothing more', async () => {
    // Object mode, high-water mark 2: two frames fill what Node reads ahead.
    const stream = new PassThrough({ objectMode: true, highWaterMark: 2 });
    const reader = new FrameReader(frameSourceOf(stream), 5_000);
    const started = Date.now();
    const waiting = reader.wait(10_000);
    stream.write(keepalive(1n));
    stream.write(keepalive(2n));
    await waiting;
    expect(Date.now() - started).toBeLessThan(1_000);
    // One frame is a trickle: that one gathers.
    const trickle = new PassThrough({ objectMode: true, highWaterMark: 2 });
    const gathering = new FrameReader(frameSourceOf(trickle), 100);
    const again = Date.now();
    const waitingAgain = gathering.wait(10_000);
    trickle.write(keepalive(3n));
    await waitingAgain;
    expect(Date.now() - again).toBeGreaterThanOrEqual(95);
  });

  it('does not let an end of the stream or a nudge wait for more data', async () => {
    const ended = new PassThrough({ objectMode: true });
    const endReader = new FrameReader(frameSourceOf(ended), 5_000);
    const endWait = endReader.wait(10_000);
    ended.end();
    const nudged = new FrameReader(frameSourceOf(new PassThrough({ objectMode: true })), 5_000);
    const nudgeWait = nudged.wait(10_000);
    nudged.nudge();
    const started = Date.now();
    await Promise.all([endWait, nudgeWait]);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('reports the end of the stream as a connection error, which the retry policy treats as such', async () => {
    const stream = new PassThrough({ objectMode: true });
    const reader = new FrameReader(frameSourceOf(stream));
    stream.end();
    await expect(next(reader, 1_000)).rejects.toMatchObject({ code: '08006' });
  });

  it('rethrows a stream error', async () => {
    const stream = new PassThrough({ objectMode: true });
    const reader = new FrameReader(frameSourceOf(stream));
    stream.destroy(new Error('terminating connection due to administrator command'));
    await expect(next(reader, 1_000)).rejects.toThrow(/administrator command/);
  });
});
