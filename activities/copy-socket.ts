/**
 * A COPY's messages read straight off node-postgres' connection socket, as pg-copy-streams
 * does: for the copy the socket is taken from the driver's message parser, and afterwards it
 * is given back, with the bytes not parsed yet, for the rest of the conversation (CommandComplete
 * and ReadyForQuery, or the ErrorResponse the driver then reports to the query). The COPY relay
 * (copy/copy-relay.ts) and the change stream (stream/replication-stream.ts) both read this way.
 *
 * Message formats: https://www.postgresql.org/docs/15/protocol-message-formats.html
 * Copy modes: https://www.postgresql.org/docs/15/protocol-flow.html#PROTOCOL-COPY
 */
import type { Duplex } from 'node:stream';

export const COPY_DATA = 0x64; // 'd'
export const COPY_DONE = 0x63; // 'c'
/** May come between CopyData messages at any time; not the copy's data. */
export const ASYNC_MESSAGES: ReadonlySet<number> = new Set([0x4e /* NoticeResponse */, 0x53 /* ParameterStatus */, 0x41 /* NotificationResponse */]);
/** A message's type byte and its int32 length (which counts itself). */
export const MESSAGE_HEADER_BYTES = 5;

/** CopyDone, as a client sends it. */
export function copyDoneMessage(): Buffer {
  return Buffer.from([COPY_DONE, 0, 0, 0, 4]);
}

type DataHandler = (chunk: Buffer) => void;

/**
 * Takes `socket` from node-postgres' parser (its one 'data' listener) and pauses it, so that
 * the caller reads it with `socket.read()` when `onReadable` says there is data. Returns the
 * way back: the socket goes back to the parser, which gets `rest` first.
 */
export function takeSocket(socket: Duplex, onReadable: () => void): (rest: Buffer) => void {
  const handlers = socket.listeners('data') as DataHandler[];
  if (handlers.length !== 1) throw new Error(`the connection's socket has ${handlers.length} data listeners, expected node-postgres' one`);
  const parserInput = handlers[0];
  socket.removeListener('data', parserInput);
  socket.pause();
  socket.on('readable', onReadable);
  return (rest: Buffer) => {
    socket.removeListener('readable', onReadable);
    socket.on('data', parserInput);
    if (rest.length > 0) parserInput(rest);
    // pause() above keeps the socket paused after a 'data' listener is added; resuming inside
    // the current read callback could deliver data out of order, so after it.
    process.nextTick(() => socket.resume());
  };
}
