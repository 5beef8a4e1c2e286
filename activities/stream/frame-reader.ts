/**
 * Reads CopyBoth frames from the replication stream one at a time, with a time limit per read
 * so the stream loop can apply a batch or answer its workflow while the source is quiet.
 * Reading pulls from the socket only as fast as frames are applied, so a slow target leaves
 * the backlog in the source's WAL, not in the worker's memory.
 *
 * Frames already buffered are returned without timers or promises racing: during a catch-up
 * that is tens of thousands of frames a second.
 *
 * CopyBoth mode: https://www.postgresql.org/docs/15/protocol-flow.html#PROTOCOL-COPY
 * what flows in it after START_REPLICATION: https://www.postgresql.org/docs/15/protocol-replication.html
 */
import type { CopyBothFrame } from './pgoutput-types';
import { parseCopyBothFrame } from './replication-frames';

/**
 * Where the frames come from: a ReplicationStream. It hands each CopyData payload out in place,
 * frameBuf[frameStart, frameEnd) after next() returned true, without a buffer per frame.
 */
export interface FrameSource {
  next(): boolean;
  /**
   * Node holds as much received data as it reads ahead (the socket's high-water mark), and
   * reads no more from the socket until some is taken: the source is ahead of the reader.
   */
  readonly full: boolean;
  readonly frameBuf: Buffer;
  readonly frameStart: number;
  readonly frameEnd: number;
  on(event: 'readable' | 'end', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

/**
 * How long a wait lets data gather after the first of it arrives, before the stream loop reads.
 * Reading each segment the moment it lands is what makes a caught-up stream expensive: the
 * walsender sends every pgoutput message on its own (one send() per message), so a reader
 * that is always waiting is woken, and reads, once per message or two, and the source's
 * kernel pays a wake-up of the reader with every send. Measured on a recorded pgbench
 * backlog (bench/RESULTS-levers.md, thirteenth pass): reading at once cost the walsender
 * 2.1-3.1 s of system CPU and the reader 2.3-2.9 s; waiting 2 ms after the first byte,
 * 0.8-1.2 s and 0.3 s, and the backlog went through faster. 2 ms is nothing next to a batch's
 * 100 ms age limit.
 *
 * Only a trickle is left to gather, though: data that arrives as a full read-ahead (the source
 * is ahead of the reader, as in a backlog) is read at once. Waiting then gathers nothing, since
 * Node reads no more until some is taken, and in a drain it stalled the stream loop 2 ms a
 * 64 KiB chunk (bench/RESULTS-levers.md, seventeenth pass: 49,000-54,000 against
 * 64,000-69,000 transactions a second).
 */
export const READ_GATHER_MS = 2;

export class FrameReader {
  private ended = false;
  private failure: unknown;
  private wake?: (gather: boolean) => void;

  constructor(
    private readonly stream: FrameSource,
    private readonly gatherMs = READ_GATHER_MS,
  ) {
    stream.on('readable', () => this.wake?.(true));
    stream.on('end', () => {
      this.ended = true;
      this.wake?.(false);
    });
    stream.on('error', (err) => {
      this.failure = err;
      this.wake?.(false);
    });
  }

  /**
   * Waits until a frame may be there (or the stream ended or failed), at most `timeoutMs`.
   * A trickle of data arriving ends the wait READ_GATHER_MS later (see there); a full
   * read-ahead, an end, an error or a nudge ends it on the next turn of the event loop.
   *
   * Either way the wait ends from the event loop, on purpose: a wake straight from the
   * 'readable' event resumes the stream loop inside the socket's read callback, the loop
   * drains the socket, the socket asks libuv to read again, and libuv keeps reading the
   * replication socket (up to 32 times 64 KiB per callback) while the target connection's
   * answers wait unread. Measured in a drain: every target round trip of a commit waited
   * ~100 ms that way, and the target sat idle.
   */
  wait(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let scheduled = false;
      let gathering: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        clearTimeout(gathering);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.wake = (gather) => {
        if (gather && this.gatherMs > 0 && !this.stream.full) {
          if (!scheduled && gathering === undefined) gathering = setTimeout(done, this.gatherMs);
          return;
        }
        if (scheduled) return;
        scheduled = true;
        setImmediate(done);
      };
    });
  }

  /** Ends a wait at once (something else needs the stream loop's attention: a hold request). */
  nudge(): void {
    this.wake?.(false);
  }

  /** A frame already received, without waiting: the fast path while catching up. */
  take(): CopyBothFrame | undefined {
    if (this.failure) throw this.failure;
    const s = this.stream;
    if (s.next()) return parseCopyBothFrame(s.frameBuf, s.frameStart, s.frameEnd);
    if (this.ended) {
      const err = new Error('Connection terminated: the source ended the replication stream') as Error & { code: string };
      err.code = '08006';
      throw err;
    }
    return undefined;
  }
}
