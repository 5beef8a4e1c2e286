/**
 * Standby status updates to the source: how far the stream has received, and how far the
 * target has committed (flushed and applied), so the slot lets go of the WAL before it. Sent
 * after each commit, when the source asks (a keepalive with a reply requested), and at least
 * every few seconds, since the source drops a silent stream after wal_sender_timeout.
 * https://www.postgresql.org/docs/15/protocol-replication.html#PROTOCOL-REPLICATION-STANDBY-STATUS-UPDATE
 */
import { standbyStatusUpdate } from './replication-frames';
import type { StreamMeter } from './stream-meter';

/** The source drops a silent stream after wal_sender_timeout (60 s by default). */
export const STATUS_UPDATE_MS = 5_000;

export class SlotFeedback {
  constructor(
    private readonly write: (frame: Buffer) => void,
    private readonly meter: Pick<StreamMeter, 'received' | 'confirmed' | 'statusSentAt'>,
  ) {}

  /**
   * Sends the positions now. Written is never behind flushed: a quiet stream confirms up to the
   * server's end of WAL (keepalives) past the last transaction it received.
   */
  send(replyRequested = false): void {
    const { received, confirmed } = this.meter;
    this.write(standbyStatusUpdate({ written: received > confirmed ? received : confirmed, flushed: confirmed, applied: confirmed, replyRequested }));
    this.meter.statusSentAt = Date.now();
  }

  /** Sends them when the last update is `STATUS_UPDATE_MS` old. */
  sendIfDue(now: number): void {
    if (now - this.meter.statusSentAt >= STATUS_UPDATE_MS) this.send();
  }
}
