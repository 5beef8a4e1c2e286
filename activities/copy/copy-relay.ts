/**
 * A COPY relay: the source's CopyData messages go to the target as they came off the wire.
 *
 * `COPY ... TO STDOUT` answers with one CopyData message per row, and `COPY ... FROM STDIN`
 * takes CopyData messages of any size, so the source's messages, header and all, are valid
 * input for the target. Forwarding the socket's bytes unchanged saves what a generic copy
 * stream does per row (a Buffer for each row's payload, then joining them, then framing them
 * again): on this project's benchmark that was most of the worker's CPU.
 *
 * Both ends are pg "submittables" (objects with `submit(connection)`), like pg-copy-streams:
 *   CopyOutRelay  a Readable of whole-message byte ranges, taken from the source socket until
 *                 the copy ends, then the socket goes back to pg for the closing messages;
 *   CopyInRelay   a Writable that writes those bytes to the target socket as they are.
 * https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-COPY
 */
import { Readable, Writable, type Duplex } from 'node:stream';
import type { Connection } from 'pg';
import { ASYNC_MESSAGES, COPY_DATA, COPY_DONE, copyDoneMessage, MESSAGE_HEADER_BYTES as HEADER_BYTES, takeSocket } from '../copy-socket';
import { relayed } from './relay-garbage';

const COPY_OUT_RESPONSE = 0x48; // 'H'
/** Written while the target socket is corked, at most (see CopyInRelay). */
const CORK_BYTES = 16 * 1024; // a socket's default high-water mark: past it a corked write would wait

/** The part of pg's Connection a submittable uses (sendCopyFail is missing from its types). */
interface PgConnection {
  stream: Duplex;
  query(text: string): void;
  sendCopyFail(message: string): void;
}

/** A CommandComplete's row count ("COPY 42"), if it is a COPY's. */
function copiedRows(message: { text?: string } | undefined): number | undefined {
  const match = /^COPY (\d+)/.exec(message?.text ?? '');
  return match ? Number(match[1]) : undefined;
}

/**
 * Reads `COPY ... TO STDOUT`: pushes the CopyData messages as byte ranges of the socket's
 * chunks (no copy) and counts rows and payload bytes as they go by.
 */
export class CopyOutRelay extends Readable {
  /** Rows seen so far (one CopyData message per row). */
  rows = 0;
  /** Table data seen so far: CopyData payload bytes. */
  bytes = 0;
  /** The source's count once its COPY has completed: what the target must have taken. */
  readonly sourceCount: Promise<number>;
  private settleCount!: { resolve: (rows: number) => void; reject: (err: Error) => void };
  private rowCount: number | undefined; // from the source's CommandComplete
  private connection?: PgConnection;
  /** Set while the socket is ours (copy-socket.ts): gives it back to pg's parser. */
  private giveSocketBack?: (rest: Buffer) => void;
  private wanted = false;
  // Where the parser is in the message stream, across chunk boundaries:
  private type = 0;
  private headerSeen = 0; // bytes of the current message's header seen (0 = at a boundary)
  private length = 0;
  private left = 0; // bytes of the current message's body still to come

  /** `binary`: the format's trailer is a message of its own, not a row. */
  constructor(
    private readonly text: string,
    private readonly binary: boolean,
  ) {
    super({ highWaterMark: 256 * 1024 });
    this.sourceCount = new Promise((resolve, reject) => (this.settleCount = { resolve, reject }));
    this.sourceCount.catch(() => undefined); // read only when the copy went through
  }

  submit(connection: Connection): void {
    this.connection = connection as unknown as PgConnection;
    // Take the socket from pg's parser until the copy ends.
    this.giveSocketBack = takeSocket(this.connection.stream, this.onReadable);
    connection.query(this.text);
  }

  /** pg calls this to install its query timeout; nothing to do. */
  callback(): void {}

  override _read(): void {
    this.wanted = true;
    this.pump();
  }

  private readonly onReadable = () => this.pump();

  private pump(): void {
    const socket = this.connection?.stream;
    let chunk: Buffer | null;
    while (this.wanted && socket && this.giveSocketBack && (chunk = socket.read() as Buffer | null) !== null) {
      this.wanted = this.parse(chunk);
      relayed(chunk.length);
    }
  }

  /** Forwards the chunk's CopyData bytes; returns false when the consumer wants no more for now. */
  private parse(chunk: Buffer): boolean {
    let more = true;
    let from = -1; // start of the run of CopyData bytes being collected
    const forward = (to: number) => {
      if (from >= 0 && to > from) more = this.push(chunk.subarray(from, to)) && more;
      from = -1;
    };
    let i = 0;
    while (i < chunk.length) {
      if (this.left > 0) {
        const n = Math.min(this.left, chunk.length - i);
        if (this.type === COPY_DATA && from < 0) from = i;
        i += n;
        this.left -= n;
        continue;
      }
      if (this.headerSeen === 0) {
        const type = chunk[i];
        if (type === COPY_DATA) {
          if (from < 0) from = i;
        } else {
          forward(i);
          if (type !== COPY_OUT_RESPONSE && !ASYNC_MESSAGES.has(type)) {
            // CopyDone, or an ErrorResponse: pg reads the rest of the conversation.
            this.giveBack(chunk.subarray(i), type === COPY_DONE);
            return false;
          }
        }
        this.type = type;
        this.length = 0;
        this.headerSeen = 1;
        i += 1;
        continue;
      }
      if (this.type === COPY_DATA && from < 0) from = i;
      this.length = this.length * 256 + chunk[i];
      this.headerSeen += 1;
      i += 1;
      if (this.headerSeen === HEADER_BYTES) {
        this.headerSeen = 0;
        this.left = this.length - 4;
        if (this.type === COPY_DATA) {
          this.rows += 1;
          this.bytes += this.left;
        }
      }
    }
    forward(chunk.length);
    return more;
  }

  /** The copy is over: the socket goes back to pg's parser, starting with `rest`. */
  private giveBack(rest: Buffer, done: boolean): void {
    const giveSocketBack = this.giveSocketBack!;
    this.giveSocketBack = undefined;
    giveSocketBack(rest);
    if (done) {
      if (this.binary && this.rows > 0) this.rows -= 1; // the trailer
      this.push(null);
    }
  }

  handleCommandComplete(message: { text?: string }): void {
    this.rowCount = copiedRows(message) ?? this.rowCount;
  }

  handleReadyForQuery(): void {
    if (this.rowCount === undefined) this.settleCount.reject(new Error('the source did not say how many rows its COPY sent'));
    else this.settleCount.resolve(this.rowCount);
  }

  handleError(err: Error): void {
    this.settleCount.reject(err);
    this.destroy(err);
  }
}

/**
 * Writes `COPY ... FROM STDIN` with bytes that are already CopyData messages.
 *
 * The rows go out right behind the query, without waiting for the server's CopyInResponse: the
 * server reads them once the COPY starts, and drops them if the query fails (protocol rules
 * for a COPY sent as a simple query). Until CORK_BYTES are queued or the copy ends, the socket
 * stays corked, so a small table's query, rows and CopyDone leave in one write: each write
 * wakes the server, and over thousands of small tables those writes were much of the time.
 *
 * It follows the message boundaries of what it wrote: when the copy ends early (the server
 * refused a row, or the pipeline gave up) in the middle of a message, it completes that
 * message with filler, so the connection stays in step (the server discards CopyData after an
 * error; an abort then sends CopyFail, so the filler is never kept).
 */
export class CopyInRelay extends Writable {
  /** The target's count, from its CommandComplete. */
  rowCount: number | undefined;
  private connection?: PgConnection;
  private corked = false;
  private queued = 0; // bytes written while corked
  private over = false; // the server ended the copy (ReadyForQuery or an error)
  private onOver?: (err?: Error) => void;
  // Where the bytes written so far stand in the message stream:
  private headerSeen = 0;
  private length = 0;
  private left = 0;

  constructor(private readonly text: string) {
    super({ highWaterMark: 256 * 1024 });
  }

  submit(connection: Connection): void {
    this.connection = connection as unknown as PgConnection;
    this.connection.stream.cork();
    this.corked = true;
    connection.query(this.text);
  }

  callback(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.over) return done(); // the server gave up on this copy: nothing more to send
    if (!this.connection) return done(new Error('the COPY was never sent: the target connection is gone'));
    this.follow(chunk);
    const socket = this.connection!.stream;
    const ok = socket.write(chunk);
    this.queued += chunk.length;
    if (!ok || this.queued >= CORK_BYTES) this.flushSocket(); // a corked socket never drains
    if (ok) done();
    else socket.once('drain', () => done());
  }

  override _final(done: (err?: Error | null) => void): void {
    // The server ends a copy only after CopyDone or with an error (which destroys this stream).
    if (this.over) return done(new Error('the target ended the COPY before its end was sent'));
    if (!this.connection) return done(new Error('the COPY was never sent: the target connection is gone'));
    this.onOver = done;
    this.connection!.stream.write(copyDoneMessage());
    this.flushSocket();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    if (!this.connection || this.over || this.connection.stream.destroyed) return done(err);
    this.onOver = () => done(err); // once the server has answered the CopyFail
    this.completeMessage();
    this.connection.sendCopyFail(err?.message ?? 'copy aborted');
    this.flushSocket();
  }

  /** Lets the writes held by the corked socket go. */
  private flushSocket(): void {
    if (!this.corked) return;
    this.corked = false;
    this.connection!.stream.uncork();
  }

  /** Moves the position past `chunk`: one step per message, not per byte. */
  private follow(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.left > 0) {
        const n = Math.min(this.left, chunk.length - i);
        i += n;
        this.left -= n;
        continue;
      }
      this.length = this.headerSeen === 0 ? 0 : this.length * 256 + chunk[i];
      this.headerSeen += 1;
      i += 1;
      if (this.headerSeen === HEADER_BYTES) {
        this.headerSeen = 0;
        this.left = this.length - 4;
      }
    }
  }

  /** Writes what the message cut off at the end of the bytes written so far lacks. */
  private completeMessage(): void {
    const socket = this.connection!.stream;
    if (this.headerSeen > 0) {
      // A cut length word: the smallest valid length with the bytes already sent.
      const missing = HEADER_BYTES - this.headerSeen;
      const tail = Buffer.alloc(missing);
      let length = this.length * 256 ** missing;
      if (length < 4) {
        tail[missing - 1] = 4;
        length = 4;
      }
      socket.write(tail);
      this.headerSeen = 0;
      this.left = length - 4;
    }
    const filler = Buffer.alloc(Math.min(this.left, 1024 * 1024));
    while (this.left > 0) {
      const n = Math.min(this.left, filler.length);
      socket.write(n === filler.length ? filler : filler.subarray(0, n));
      this.left -= n;
    }
  }

  /** The server is ready for rows; they may have been sent already. */
  handleCopyInResponse(): void {}

  handleCommandComplete(message: { text?: string }): void {
    this.rowCount = copiedRows(message) ?? this.rowCount;
  }

  handleReadyForQuery(): void {
    this.over = true;
    const onOver = this.onOver;
    this.onOver = undefined;
    onOver?.();
  }

  handleError(err: Error): void {
    this.over = true;
    // The server now drops CopyData until the next query: let that start on a message boundary.
    // (pg also calls this for a query it never submitted, on a client that lost its connection.)
    if (this.connection && !this.connection.stream.destroyed) this.completeMessage();
    this.flushSocket();
    const onOver = this.onOver;
    this.onOver = undefined;
    if (onOver) onOver(err);
    else this.destroy(err);
  }
}

/**
 * The rows a relay moved, once both ends have said how many: the source's count (its
 * CommandComplete) must equal the target's, or rows were lost or doubled on the way.
 */
export async function agreedRowCount(reader: CopyOutRelay, writer: CopyInRelay): Promise<number> {
  const sent = await reader.sourceCount;
  if (writer.rowCount !== sent) throw new Error(`the source sent ${sent} rows, the target took ${writer.rowCount ?? 'none'}`);
  return sent;
}
