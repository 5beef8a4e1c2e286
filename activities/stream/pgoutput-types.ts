/**
 * The logical replication messages pgferry consumes, as decoded from the `pgoutput` plugin
 * (protocol version 1, PostgreSQL "Logical Replication Message Formats"). Values stay in
 * PostgreSQL's text form: converting them to JS numbers or dates would lose precision.
 *
 * LSNs are kept as bigint (64-bit WAL positions); `formatLsn`/`parseLsn` in lsn.ts convert
 * them to and from PostgreSQL's `X/Y` notation.
 *
 * pgoutput messages: https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html
 * CopyBoth frames (XLogData, primary keepalive): https://www.postgresql.org/docs/15/protocol-replication.html
 */

/** One column of a tuple: `null`, a text value, or unchanged TOASTed data that was not sent. */
export type TupleValue = string | null | typeof UNCHANGED_TOAST;

/** Marker for pgoutput's `u` kind: the value did not change and is not in the message. */
export const UNCHANGED_TOAST: unique symbol = Symbol('unchanged-toast');

/** TupleData column kinds, as byte values. */
export const COL_NULL = 0x6e; // n
export const COL_UNCHANGED_TOAST = 0x75; // u
export const COL_TEXT = 0x74; // t
export const COL_BINARY = 0x62; // b

export interface RelationColumn {
  name: string;
  /** Part of the replica identity key (flag bit 1). */
  isKey: boolean;
  /** Type OID on the source. */
  typeOid: number;
  typeMod: number;
}

export interface RelationMessage {
  tag: 'relation';
  relationId: number;
  schema: string;
  name: string;
  /** `d` default (primary key), `n` nothing, `f` full, `i` index. */
  replicaIdentity: 'd' | 'n' | 'f' | 'i';
  columns: RelationColumn[];
}

export interface BeginMessage {
  tag: 'begin';
  /** LSN of the transaction's commit record. */
  finalLsn: bigint;
  /** Commit time, microseconds since the Unix epoch (converted from PostgreSQL's 2000 epoch). */
  commitTimeMicros: bigint;
  xid: number;
}

export interface CommitMessage {
  tag: 'commit';
  flags: number;
  commitLsn: bigint;
  /** End of the commit record: the position to confirm once this transaction is applied. */
  endLsn: bigint;
  commitTimeMicros: bigint;
}

export interface InsertMessage {
  tag: 'insert';
  relationId: number;
  newTuple: TupleValue[];
}

export interface UpdateMessage {
  tag: 'update';
  relationId: number;
  /** Present (`K`) when the key changed, or the whole old row (`O`) under REPLICA IDENTITY FULL. */
  oldTuple?: TupleValue[];
  oldKind?: 'key' | 'old';
  newTuple: TupleValue[];
}

export interface DeleteMessage {
  tag: 'delete';
  relationId: number;
  /** `K`: only the key columns are meaningful (others null); `O`: the whole old row. */
  oldKind: 'key' | 'old';
  oldTuple: TupleValue[];
}

export interface TruncateMessage {
  tag: 'truncate';
  cascade: boolean;
  restartIdentity: boolean;
  relationIds: number[];
}

export interface TypeMessage {
  tag: 'type';
  typeOid: number;
  schema: string;
  name: string;
}

export interface OriginMessage {
  tag: 'origin';
  lsn: bigint;
  name: string;
}

/** A logical decoding message (`pg_logical_emit_message`), received with `messages 'true'`. */
export interface LogicalMessage {
  tag: 'message';
  transactional: boolean;
  lsn: bigint;
  prefix: string;
  content: Buffer;
}

export type PgOutputMessage =
  | RelationMessage
  | BeginMessage
  | CommitMessage
  | InsertMessage
  | UpdateMessage
  | DeleteMessage
  | TruncateMessage
  | TypeMessage
  | OriginMessage
  | LogicalMessage;

/**
 * XLogData (`w`): a chunk of the stream carrying one pgoutput message. Its header (the
 * message's WAL start, the server's end of WAL and its clock) is not read: commits carry
 * their end, keepalives the server's end and clock, and a 64-bit read per frame was a good part
 * of the stream's allocation.
 */
export interface XLogData {
  kind: 'xlogdata';
  /**
   * The bytes the frame was received in: its pgoutput message is data[at, end). Not a view of
   * the message: at ~200,000 frames a second, each view is an object the collector deals with.
   */
  data: Buffer;
  at: number;
  end: number;
}

/** The XLogData header before the pgoutput message: 'w', its start and end of WAL, its send time. */
export const XLOG_DATA_HEADER = 1 + 8 + 8 + 8;

/** The length of an XLogData frame's pgoutput message. */
export function messageBytes(frame: XLogData): number {
  return frame.end - frame.at;
}

/** Primary keepalive (`k`). */
export interface PrimaryKeepalive {
  kind: 'keepalive';
  walEnd: bigint;
  sendTimeMicros: bigint;
  replyRequested: boolean;
}

export type CopyBothFrame = XLogData | PrimaryKeepalive;
