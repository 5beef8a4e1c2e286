/**
 * The verifier's side of the stream hold (activities/stream/stream-hold.ts): NOTIFY requests on
 * the target, LISTEN for the stream's answers. An answer that does not come in time means the
 * stream is restarting (or paused): the caller gives up this try and starts again.
 */
import type { Client } from 'pg';
import type { ResolvedConnection } from '../credentials';
import { closeQuietly, openClient, quoteIdent } from '../db';
import { holdChannels, type HoldAck, type HoldMessage } from '../stream/stream-hold';

export class HoldRequester {
  private readonly acks = new Map<string, HoldAck>();
  private waiting?: () => void;
  /** The token of the hold last asked for, released on close if still on. */
  private current?: string;
  private closing?: Promise<void>;

  private constructor(
    /** Closed on cancellation with the activity's other connections. */
    readonly client: Client,
    private readonly channels: { requests: string; acks: string },
  ) {
    client.on('notification', (n) => {
      if (n.channel !== channels.acks || !n.payload) return;
      try {
        const ack = JSON.parse(n.payload) as HoldAck;
        this.acks.set(ack.token, ack);
        this.waiting?.();
      } catch {
        // not an answer of ours
      }
    });
  }

  static async open(target: ResolvedConnection, migrationId: string): Promise<HoldRequester> {
    const client = await openClient(target, 'verify hold');
    const channels = holdChannels(migrationId);
    await client.query(`LISTEN ${quoteIdent(channels.acks)}`);
    return new HoldRequester(client, channels);
  }

  /** Asks for a hold and waits for the stream's answer (undefined: none in time). */
  async hold(token: string, lsn: string | undefined, maxMs: number, answerWithinMs: number): Promise<HoldAck | undefined> {
    this.current = token;
    const message: HoldMessage = { op: 'hold', token, maxMs, ...(lsn ? { lsn } : {}) };
    await this.client.query('SELECT pg_catalog.pg_notify($1, $2)', [this.channels.requests, JSON.stringify(message)]);
    const deadline = Date.now() + answerWithinMs;
    while (!this.acks.has(token) && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(250, deadline - Date.now()));
        this.waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiting = undefined;
    }
    return this.acks.get(token);
  }

  async release(): Promise<void> {
    const token = this.current;
    this.current = undefined;
    if (!token) return;
    const message: HoldMessage = { op: 'release', token };
    await this.client.query('SELECT pg_catalog.pg_notify($1, $2)', [this.channels.requests, JSON.stringify(message)]);
  }

  /** Releases a hold still on (best effort: it expires anyway) and disconnects. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.release().catch(() => undefined);
      await closeQuietly(this.client);
    })();
    return this.closing;
  }
}
