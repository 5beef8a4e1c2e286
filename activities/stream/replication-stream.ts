/**
 * The replication connection's CopyBoth stream, read frame by frame straight off the socket.
 *
 * pg-copy-streams' `both` does this job generically: a Duplex in object mode, a buffer list,
 * a slice and a push per frame, and a read back out of the Readable's queue. In a drain the
 * stream carries ~200,000 frames a second, and that machinery was a tenth of the worker's CPU
 * and a good part of its garbage. Here each frame is read in place in the socket's chunk (a
 * frame that straddles two chunks is copied once), handed out by `next()` only when the stream loop
 * asks: the socket is read no faster than frames are taken, so a slow target leaves the backlog
 * in the source's WAL, not in the worker's memory.
 *
 * How it rides on node-postgres (as `both` does): it is a Submittable query. On submit it takes
 * the connection's socket from the driver's message parser, sends START_REPLICATION, and parses
 * the answer itself. An ErrorResponse, or the CopyDone that ends the stream, and everything after
 * it are handed back to the driver, which reports the error (handleError) and the end of the
 * query as for any query; a connection that drops fails the query the same way.
 *
 * Message formats: https://www.postgresql.org/docs/15/protocol-message-formats.html
 * CopyBoth: https://www.postgresql.org/docs/15/protocol-flow.html#PROTOCOL-COPY
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { Connection, Submittable } from 'pg';
import { ASYNC_MESSAGES, COPY_DATA, COPY_DONE, copyDoneMessage, MESSAGE_HEADER_BYTES as MESSAGE_HEADER, takeSocket } from '../copy-socket';

const COPY_BOTH_RESPONSE = 0x57; // W
const ERROR_RESPONSE = 0x45; // E

const EMPTY = Buffer.alloc(0);

/**
 * Emits 'readable' when the socket has data (a frame may be ready), 'end' once the server ended
 * the copy, 'error' with the query's error.
 */
export class ReplicationStream extends EventEmitter implements Submittable {
  /** The connection's socket (a TLS socket over SSL), while the copy is ours. */
  private socket?: Duplex;
  /** Gives the socket back to node-postgres' parser (copy-socket.ts). */
  private giveSocketBack?: (rest: Buffer) => void;
  /** Received bytes not yet parsed: `chunk` from `offset` on, then `pending`. */
  private chunk: Buffer = EMPTY;
  private offset = 0;
  /** Chunks gathered for a message cut at the end of `chunk`, until it is whole. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The server answered CopyBothResponse: frames may be written. */
  private copying = false;
  private unsent: Buffer[] = [];
  private readonly onReadable = () => this.emit('readable');
  /** After next() returned true: the CopyData payload is frameBuf[frameStart, frameEnd). */
  frameBuf: Buffer = EMPTY;
  frameStart = 0;
  frameEnd = 0;

  /** `text`: the START_REPLICATION command. */
  constructor(private readonly text: string) {
    super();
  }

  /** node-postgres calls this when the query's turn comes. */
  submit(connection: Pick<Connection, 'stream' | 'query'>): void {
    this.socket = connection.stream;
    this.giveSocketBack = takeSocket(connection.stream, this.onReadable);
    connection.query(this.text);
  }

  /**
   * Moves to the next CopyData payload, in place (frameBuf, frameStart, frameEnd: no view is
   * made, the stream loop's hot path); false when none is buffered (wait for 'readable'). The
   * bytes are the caller's: nothing here writes to them again.
   */
  next(): boolean {
    for (;;) {
      const available = this.chunk.length - this.offset;
      if (available >= MESSAGE_HEADER) {
        const at = this.offset;
        const end = at + 1 + this.chunk.readUInt32BE(at + 1);
        if (end <= this.chunk.length) {
          const type = this.chunk[at];
          if (type === COPY_DATA) {
            this.offset = end;
            this.frameBuf = this.chunk;
            this.frameStart = at + MESSAGE_HEADER;
            this.frameEnd = end;
            return true;
          }
          if (!this.control(type, end)) return false;
          continue;
        }
      }
      if (!this.receive()) return false;
    }
  }

  /** Node's buffer of the socket is at its high-water mark: it reads no more until we do (FrameSource.full). */
  get full(): boolean {
    const socket = this.socket;
    return socket !== undefined && socket.readableLength >= socket.readableHighWaterMark;
  }

  /** Sends one CopyData message (a standby status update); held until the copy has started. */
  write(payload: Buffer): boolean {
    const message = Buffer.allocUnsafe(MESSAGE_HEADER + payload.length);
    message[0] = COPY_DATA;
    message.writeUInt32BE(4 + payload.length, 1);
    payload.copy(message, MESSAGE_HEADER);
    if (!this.copying || !this.socket) {
      this.unsent.push(message);
      return false;
    }
    return this.socket.write(message);
  }

  /** Ends the copy from this side (CopyDone); the server answers with its own, and 'end' follows. */
  end(): void {
    this.socket?.write(copyDoneMessage());
  }

  /** A message other than CopyData, ending at `end`. False: the stream is over (handed back). */
  private control(type: number, end: number): boolean {
    if (type === COPY_BOTH_RESPONSE) {
      this.offset = end;
      this.copying = true;
      for (const message of this.unsent.splice(0)) this.socket!.write(message);
      return true;
    }
    if (ASYNC_MESSAGES.has(type)) {
      this.offset = end;
      return true;
    }
    if (type === COPY_DONE) {
      this.offset = end; // the driver gets what follows: CommandComplete, ReadyForQuery
      this.handBack();
      this.emit('end');
      return false;
    }
    // An ErrorResponse (or anything unexpected): the driver reads it, and fails the query.
    if (type !== ERROR_RESPONSE) this.emit('error', new Error(`unexpected message type 0x${type.toString(16)} in the replication stream`));
    this.handBack();
    return false;
  }

  /**
   * Reads the socket until there is more to parse. False: nothing there yet. A message cut at
   * the end of a chunk is copied once, alone, with the bytes that complete it (a big row spans
   * many chunks); parsing then goes on in place in the chunk its last bytes came in.
   */
  private receive(): boolean {
    for (;;) {
      if (this.offset >= this.chunk.length && this.pending.length > 0) {
        this.chunk = this.pending.shift()!; // what followed a joined message
        this.pendingBytes -= this.chunk.length;
        this.offset = 0;
        return true;
      }
      const next = (this.socket?.read() ?? null) as Buffer | null;
      if (next === null) return false;
      if (this.offset >= this.chunk.length) {
        this.chunk = next;
        this.offset = 0;
        return true;
      }
      this.pending.push(next);
      this.pendingBytes += next.length;
      const left = this.chunk.length - this.offset;
      if (left < MESSAGE_HEADER) {
        // The cut is inside a message's header (rare): join all, and learn its length from that.
        if (left + this.pendingBytes < MESSAGE_HEADER) continue;
        this.chunk = this.unparsed();
        this.offset = 0;
        return true;
      }
      const length = 1 + this.chunk.readUInt32BE(this.offset + 1);
      if (left + this.pendingBytes >= length) {
        this.joinCut(length);
        return true;
      }
    }
  }

  /**
   * The message cut at the end of `chunk` (`length` bytes, all received) becomes a buffer of
   * its own; the rest of the last chunk it took bytes from stays pending, to be parsed in place.
   * Joining the whole next chunk instead copied ~64 KiB per chunk received.
   */
  private joinCut(length: number): void {
    const joined = Buffer.allocUnsafe(length);
    let filled = this.chunk.copy(joined, 0, this.offset);
    while (filled < length) {
      const first = this.pending[0];
      const take = Math.min(first.length, length - filled);
      first.copy(joined, filled, 0, take);
      filled += take;
      this.pendingBytes -= take;
      if (take === first.length) this.pending.shift();
      else this.pending[0] = first.subarray(take);
    }
    this.chunk = joined;
    this.offset = 0;
  }

  /** Everything received and not parsed, in one buffer (gathered chunks joined). */
  private unparsed(): Buffer {
    const rest = this.chunk.subarray(this.offset);
    if (this.pending.length === 0) return rest;
    const whole = Buffer.concat([rest, ...this.pending], rest.length + this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    return whole;
  }

  /** Gives the socket, and what is left unparsed, back to node-postgres' parser. */
  private handBack(): void {
    const giveSocketBack = this.giveSocketBack!;
    const rest = this.unparsed();
    this.socket = undefined;
    this.giveSocketBack = undefined;
    this.chunk = EMPTY;
    this.offset = 0;
    giveSocketBack(rest);
  }

  // The rest of node-postgres' query interface, called with the messages it parses after handBack.
  handleError(err: Error): void {
    this.emit('error', err);
  }
  handleCommandComplete(): void {}
  handleReadyForQuery(): void {}
  handleCopyData(): void {}
}
