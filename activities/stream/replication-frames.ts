/**
 * The CopyBoth layer of the streaming replication protocol: after START_REPLICATION every
 * CopyData payload from the server is an XLogData (`w`) or a primary keepalive (`k`), and the
 * client answers with standby status updates (`r`). The `w` payload is one pgoutput message
 * (see pgoutput-decoder.ts). Positions are unsigned 64-bit, times signed 64-bit protocol time.
 *
 * The three messages are specified under START_REPLICATION in
 * https://www.postgresql.org/docs/15/protocol-replication.html
 */
import { pgTimeToUnixMicros, readInt64BE, readUInt64BE, unixMicrosToPgTime } from '../../common/lsn';
import { XLOG_DATA_HEADER, type CopyBothFrame } from './pgoutput-types';
import { describeByte } from './protocol-byte';

const XLOG_DATA = 0x77; // 'w'
const KEEPALIVE = 0x6b; // 'k'
const STATUS_UPDATE = 0x72; // 'r'

const KEEPALIVE_LENGTH = 1 + 8 + 8 + 1;
const STATUS_UPDATE_LENGTH = 1 + 8 + 8 + 8 + 8 + 1;

/** Parses one whole CopyData payload, buf[start, end) (ReplicationStream hands them out in place). */
export function parseCopyBothFrame(buf: Buffer, start = 0, end = buf.length): CopyBothFrame {
  const length = end - start;
  if (length <= 0) throw new Error('empty CopyData frame in replication stream');
  const kind = buf[start];
  if (kind === XLOG_DATA) {
    if (length < XLOG_DATA_HEADER) throw new Error(`truncated XLogData frame: ${length} bytes, header needs ${XLOG_DATA_HEADER}`);
    // The bytes as received, not a copy: they are ours alone once replication-stream.ts handed them out.
    return { kind: 'xlogdata', data: buf, at: start + XLOG_DATA_HEADER, end };
  }
  if (kind === KEEPALIVE) {
    if (length !== KEEPALIVE_LENGTH) throw new Error(`malformed primary keepalive frame: ${length} bytes, expected ${KEEPALIVE_LENGTH}`);
    return {
      kind: 'keepalive',
      walEnd: readUInt64BE(buf, start + 1),
      sendTimeMicros: pgTimeToUnixMicros(readInt64BE(buf, start + 9)),
      replyRequested: buf[start + 17] !== 0,
    };
  }
  throw new Error(`unknown replication CopyData message type ${describeByte(kind)}: expected 'w' (XLogData) or 'k' (keepalive)`);
}

export interface StandbyStatus {
  /** Last WAL position received (+1). */
  written: bigint;
  /** Last position durably applied on the target: the server may discard WAL before it. */
  flushed: bigint;
  applied: bigint;
  /** Ask the server to answer at once with a keepalive. */
  replyRequested?: boolean;
  /** Client clock in µs since the Unix epoch (default: now). Sent in protocol time. */
  nowMicros?: bigint;
}

/** Builds a standby status update (`r`) to write, as one CopyData message, to the stream. */
export function standbyStatusUpdate(status: StandbyStatus): Buffer {
  const now = status.nowMicros ?? BigInt(Date.now()) * 1000n;
  const buf = Buffer.allocUnsafe(STATUS_UPDATE_LENGTH);
  buf[0] = STATUS_UPDATE;
  buf.writeBigUInt64BE(status.written, 1);
  buf.writeBigUInt64BE(status.flushed, 9);
  buf.writeBigUInt64BE(status.applied, 17);
  buf.writeBigInt64BE(unixMicrosToPgTime(now), 25);
  buf[33] = status.replyRequested ? 1 : 0;
  return buf;
}
