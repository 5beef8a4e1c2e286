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
 *
 * Several tables can go in one round trip: a query of several `COPY ... TO STDOUT` statements
 * answers with one copy after the other, and a query of as many `COPY ... FROM STDIN` (with
 * other statements between them) takes them in the same order, each ended by its CopyDone,
 * which CopyOutRelay puts between them. Over thousands of tiny tables, a round trip per table
 * on each side was much of the copy's cost.
 * https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-COPY
 */
import { Readable, Writable, type Duplex } from 'node:stream';
import type { Connection } from 'pg';
import { ASYNC_MESSAGES, COPY_DATA, COPY_DONE, copyDoneMessage, MESSAGE_HEADER_BYTES as HEADER_BYTES, takeSocket } from '../copy-socket';
import { relayed } from './relay-garbage';

const COPY_OUT_RESPONSE = 0x48; // 'H'
const COMMAND_COMPLETE = 0x43; // 'C'
const READY_FOR_QUERY = 0x5a; // 'Z'
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

/** One finished copy of a query's: rows and payload bytes as they went by, and how long it took. */
export interface CopyFigures {
  rows: number;
  bytes: number;
  ms: number;
}

/**
 * Reads `COPY ... TO STDOUT` (or a query of `copies` of them): pushes the CopyData messages as
 * byte ranges of the socket's chunks (no copy), a CopyDone between two copies, and counts rows
 * and payload bytes as they go by. Emits 'copy' (its index) as each copy starts.
 */
export class CopyOutRelay extends Readable {
  /** Rows seen so far, all copies (one CopyData message per row). */
  rows = 0;
  /** Table data seen so far, all copies: CopyData payload bytes. */
  bytes = 0;
  /** The copy under way (-1 before the first starts). */
  copyIndex = -1;
  /** Rows and bytes of the copy under way, so far. */
  copyRows = 0;
  copyBytes = 0;
  /** The copies finished so far, in order. */
  readonly finished: CopyFigures[] = [];
  /** Each copy's count from the source once the query has completed: what the target must have taken. */
  readonly sourceCounts: Promise<number[]>;
  private settleCount!: { resolve: (rows: number[]) => void; reject: (err: Error) => void };
  private readonly counts: number[] = []; // from the source's CommandCompletes
  private rowCount: number | undefined; // the last copy's, which pg reads
  private copyStarted = 0;
  private tag: Buffer[] = []; // the CommandComplete being read
  private connection?: PgConnection;
  /** Set while the socket is ours (copy-socket.ts): gives it back to pg's parser. */
  private giveSocketBack?: (rest: Buffer) => void;
  private wanted = false;
  // Where the parser is in the message stream, across chunk boundaries:
  private type = 0;
  private headerSeen = 0; // bytes of the current message's header seen (0 = at a boundary)
  private length = 0;
  private left = 0; // bytes of the current message's body still to come

  /** `binary`: the format's trailer is a message of its own, not a row. `copies`: COPY statements in `text`. */
  constructor(
    private readonly text: string,
    private readonly binary: boolean,
    private readonly copies = 1,
  ) {
    super({ highWaterMark: 256 * 1024 });
    this.sourceCounts = new Promise((resolve, reject) => (this.settleCount = { resolve, reject }));
    this.sourceCounts.catch(() => undefined); // read only when the copy went through
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
        else if (this.type === COMMAND_COMPLETE) this.tag.push(chunk.subarray(i, i + n));
        i += n;
        this.left -= n;
        if (this.left === 0 && this.type === COMMAND_COMPLETE) this.commandComplete();
        continue;
      }
      if (this.headerSeen === 0) {
        const type = chunk[i];
        if (type === COPY_DATA) {
          if (from < 0) from = i;
        } else {
          forward(i);
          if (type === COPY_OUT_RESPONSE) this.copyStart();
          else if (type === COPY_DONE) {
            this.copyDone();
            // The last copy's end: pg reads the rest of the conversation.
            if (this.finished.length >= this.copies) {
              this.giveBack(chunk.subarray(i), true);
              return false;
            }
            more = this.push(copyDoneMessage()) && more; // the target's copy of this table ends here too
          } else if (type !== COMMAND_COMPLETE && !ASYNC_MESSAGES.has(type)) {
            // An ErrorResponse, or the query's end with fewer copies than expected: pg reads the rest.
            this.giveBack(chunk.subarray(i), type === READY_FOR_QUERY);
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
          this.copyRows += 1;
          this.copyBytes += this.left;
        } else if (this.type === COMMAND_COMPLETE) this.tag = [];
      }
    }
    forward(chunk.length);
    return more;
  }

  private copyStart(): void {
    this.copyIndex += 1;
    this.copyRows = 0;
    this.copyBytes = 0;
    this.copyStarted = Date.now();
    this.emit('copy', this.copyIndex);
  }

  private copyDone(): void {
    if (this.binary && this.copyRows > 0) {
      // the trailer
      this.copyRows -= 1;
      this.rows -= 1;
    }
    this.finished.push({ rows: this.copyRows, bytes: this.copyBytes, ms: Date.now() - this.copyStarted });
  }

  /** A copy's CommandComplete that came before the last copy's end (pg reads the last one). */
  private commandComplete(): void {
    const rows = copiedRows({ text: Buffer.concat(this.tag).toString('latin1') });
    if (rows !== undefined) this.counts.push(rows);
    this.tag = [];
  }

  /** The copies are over: the socket goes back to pg's parser, starting with `rest`. */
  private giveBack(rest: Buffer, done: boolean): void {
    const giveSocketBack = this.giveSocketBack!;
    this.giveSocketBack = undefined;
    giveSocketBack(rest);
    if (done) this.push(null);
  }

  handleCommandComplete(message: { text?: string }): void {
    this.rowCount = copiedRows(message) ?? this.rowCount;
  }

  handleReadyForQuery(): void {
    const counts = this.rowCount === undefined ? this.counts : [...this.counts, this.rowCount];
    if (counts.length !== this.copies) this.settleCount.reject(new Error(`the source did not say how many rows its COPY statements sent (${counts.length} counts for ${this.copies})`));
    else this.settleCount.resolve(counts);
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
  /** The target's counts, from its COPYs' CommandCompletes, in order. */
  readonly rowCounts: number[] = [];
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
    const rows = copiedRows(message);
    if (rows !== undefined) this.rowCounts.push(rows);
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
  const [rows] = await agreedRowCounts(reader, writer);
  return rows;
}

/** The same for each copy of a query of several: `names` say which table a mismatch is in. */
export async function agreedRowCounts(reader: CopyOutRelay, writer: CopyInRelay, names?: string[]): Promise<number[]> {
  const sent = await reader.sourceCounts;
  sent.forEach((rows, i) => {
    const took = writer.rowCounts[i];
    if (took !== rows) throw new Error(`the source sent ${rows} rows${names ? ` of ${names[i]}` : ''}, the target took ${took ?? 'none'}`);
  });
  if (writer.rowCounts.length !== sent.length) throw new Error(`the source sent ${sent.length} COPY streams, the target completed ${writer.rowCounts.length}`);
  return sent;
}
