/**
 * A FrameSource (frame-reader.ts) over a Readable in object mode carrying one CopyData payload
 * per chunk: unit tests write frames to a PassThrough and the reader takes them in place, as it
 * does from a ReplicationStream.
 */
import type { Readable } from 'node:stream';
import type { FrameSource } from '../../activities/stream/frame-reader';
import { XLOG_DATA_HEADER, type XLogData } from '../../activities/stream/pgoutput-types';

export function frameSourceOf(readable: Readable): FrameSource {
  const source = {
    /** Object mode: its high-water mark counts frames (16 by default). */
    get full(): boolean {
      return readable.readableLength >= readable.readableHighWaterMark;
    },
    frameBuf: Buffer.alloc(0) as Buffer,
    frameStart: 0,
    frameEnd: 0,
    next(): boolean {
      const chunk = readable.read() as Buffer | null;
      if (chunk === null) return false;
      source.frameBuf = chunk;
      source.frameStart = 0;
      source.frameEnd = chunk.length;
      return true;
    },
    on(event: string, listener: (...args: any[]) => void) {
      readable.on(event, listener);
      return source;
    },
  };
  return source as FrameSource;
}

/** An XLogData frame's WAL start (its header's first field, which the stream itself never reads). */
export function walStartOf(frame: XLogData): bigint {
  return frame.data.readBigUInt64BE(frame.at - XLOG_DATA_HEADER + 1);
}
