/**
 * A hold on the change stream at an exact source position, for online verification
 * (activities/verify/): "apply every transaction that commits before L, then apply nothing
 * more until released". The target then holds exactly the source's state as of L, which a
 * source snapshot taken at L (a temporary slot's exported snapshot) can be compared with.
 *
 * The channel is the target, which both the stream and the verifier reach: the verifier sends
 * requests with NOTIFY on `holdChannels(id).requests`, the stream listens on a connection of
 * its own (a listening session that is always idle gets a notification as soon as it commits),
 * and answers on `.acks` once it holds. Nothing here is trusted for exactness: the verifier
 * checks the stream's position row (stream-position.ts) inside its own target snapshot, and
 * that row moves in the same transaction as the changes, so `applied_lsn = L` in the snapshot
 * proves the snapshot is the source's state at L whatever happened to the stream (restart,
 * expired hold). A hold is memory only: a restarted stream holds nothing, and every hold
 * expires after the request's `maxMs`, so a dead verifier never stalls the stream.
 *
 * LSN rule (PostgreSQL's snapbuild): a snapshot exported at consistent point L sees exactly the
 * transactions whose commit record starts before L, which are the ones pgoutput's Begin
 * reports with `finalLsn < L`; the stream knows it has all of them once anything at or past L
 * arrives (a Begin, a keepalive's walEnd, a logical message such as the lag heartbeat).
 * https://www.postgresql.org/docs/15/protocol-replication.html (CREATE_REPLICATION_SLOT)
 */
import type { Client } from 'pg';
import { formatLsn, parseLsn } from '../../common/lsn';
import { replicationNames } from '../../common/replication-names';
import type { ResolvedConnection } from '../credentials';
import { closeQuietly, openClient, quoteIdent } from '../db';

/** NOTIFY channels of one migration (identifiers: at most 63 bytes). */
export function holdChannels(migrationId: string): { requests: string; acks: string } {
  const base = `${replicationNames(migrationId).publication}_hold`;
  return { requests: base, acks: `${base}_ack` };
}

/**
 * From the verifier. `hold` without `lsn`: hold between transactions now (start no transaction
 * received from here on). With `lsn`: apply what commits before it, then hold there. A later
 * request replaces an earlier one; `release` ends the hold of its token.
 */
export type HoldMessage = { op: 'hold'; token: string; lsn?: string; maxMs: number } | { op: 'release'; token: string };

/** From the stream: it holds, with everything up to `position` applied and committed (exactly `lsn` when it reached it). */
export interface HoldAck {
  token: string;
  position: string;
}

interface Hold {
  token: string;
  /** Hold before the first transaction committing at or past this; undefined: before any new one. */
  bound?: bigint;
  expiresAt: number;
  /** Everything before `bound` has arrived. */
  reached: boolean;
  /** Committed and acknowledged at this position. */
  heldAt?: bigint;
  heldSince?: number;
}

/**
 * The stream's side, pure: what a hold request means for each message and when to commit and
 * answer. The stream asks `blocks` at each Begin, reports positions it sees with `saw`, and
 * between transactions asks `readyToHold`; once it committed, `held` gives the answer to send.
 */
export class StreamHold {
  private hold?: Hold;
  /** Time spent held (acknowledged until released or expired), for the stream's figures. */
  heldMs = 0;
  holds = 0;

  /** A NOTIFY payload; true when the stream should look again at once (wake its reader). */
  receive(payload: string, now = Date.now()): boolean {
    let message: HoldMessage;
    try {
      message = JSON.parse(payload) as HoldMessage;
    } catch {
      return false; // not ours: ignore
    }
    if (message.op === 'release') {
      if (this.hold?.token !== message.token) return false;
      this.end(now);
      return true;
    }
    if (message.op !== 'hold' || typeof message.token !== 'string') return false;
    const maxMs = Math.min(Math.max(Number(message.maxMs) || 0, 0), 10 * 60_000);
    this.end(now);
    this.hold = { token: message.token, expiresAt: now + maxMs, reached: false, ...(message.lsn ? { bound: parseLsn(message.lsn) } : {}) };
    return true;
  }

  /** A hold is asked for (and has not expired). */
  active(now = Date.now()): boolean {
    if (this.hold && now >= this.hold.expiresAt) this.end(now);
    return this.hold !== undefined;
  }

  /** Acknowledged and still on: the stream reads and applies nothing. */
  holding(now = Date.now()): boolean {
    return this.active(now) && this.hold!.heldAt !== undefined;
  }

  /** Waiting for a position at or past the bound: the stream should ask the source for one (keepalive, heartbeat). */
  awaitingPosition(now = Date.now()): boolean {
    return this.active(now) && this.hold!.bound !== undefined && !this.hold!.reached;
  }

  /** The bound of the hold, if it has one. */
  get bound(): bigint | undefined {
    return this.hold?.bound;
  }

  /** Whether a transaction committing at `finalLsn` must wait (the stream stops reading before it). */
  blocks(finalLsn: bigint, now = Date.now()): boolean {
    if (!this.active(now)) return false;
    const hold = this.hold!;
    if (hold.bound !== undefined && finalLsn < hold.bound) return false;
    if (hold.bound !== undefined) hold.reached = true;
    return true;
  }

  /** A position the source has decoded past (keepalive walEnd, a logical message's LSN). */
  saw(lsn: bigint): void {
    if (this.hold?.bound !== undefined && lsn >= this.hold.bound) this.hold.reached = true;
  }

  /**
   * Between transactions, with nothing received left unapplied except what waits: whether to
   * commit and hold now, and at which position (the bound; undefined: where the stream is).
   */
  readyToHold(now = Date.now()): { position?: bigint } | undefined {
    if (!this.active(now)) return undefined;
    const hold = this.hold!;
    if (hold.heldAt !== undefined) return undefined;
    if (hold.bound === undefined) return {};
    return hold.reached ? { position: hold.bound } : undefined;
  }

  /** Committed at `applied`: the answer to send. */
  held(applied: bigint, now = Date.now()): HoldAck | undefined {
    if (!this.hold) return undefined;
    this.hold.heldAt = applied;
    this.hold.heldSince = now;
    this.holds += 1;
    return { token: this.hold.token, position: formatLsn(applied) };
  }

  private end(now: number): void {
    if (this.hold?.heldSince !== undefined) this.heldMs += now - this.hold.heldSince;
    this.hold = undefined;
  }
}

/**
 * The stream's listening connection on the target. It reconnects when lost (checked by the
 * stream now and then with `ensure`); meanwhile a verifier's request goes unanswered and the
 * verifier tries again, while the stream goes on as if no one had asked.
 */
export class HoldListener {
  private client?: Client;
  private connecting?: Promise<void>;

  constructor(
    private readonly target: ResolvedConnection,
    private readonly migrationId: string,
    private readonly onMessage: (payload: string) => void,
  ) {}

  async ensure(): Promise<void> {
    if (this.client) return;
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    await this.connecting;
  }

  private async connect(): Promise<void> {
    const client = await openClient(this.target, 'stream hold');
    const lost = () => {
      if (this.client === client) this.client = undefined;
      void closeQuietly(client);
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (n) => {
      if (n.channel === holdChannels(this.migrationId).requests && n.payload) this.onMessage(n.payload);
    });
    await client.query(`LISTEN ${quoteIdent(holdChannels(this.migrationId).requests)}`);
    this.client = client;
  }

  /** Answers the verifier; a lost connection only means it waits and tries again. */
  async answer(ack: HoldAck): Promise<void> {
    try {
      await this.ensure();
      await this.client?.query('SELECT pg_catalog.pg_notify($1, $2)', [holdChannels(this.migrationId).acks, JSON.stringify(ack)]);
    } catch {
      // the verifier times out and starts its round again
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await closeQuietly(client);
  }
}
