/**
 * Replication lag measured the same way for every contender, from the source: every 100 ms,
 * `pg_current_wal_lsn() - confirmed_flush_lsn` of the contender's slot (what the source still
 * has to keep for it), and pg_stat_replication's lag columns of the walsender serving that slot
 * (PostgreSQL computes them from any client's standby status updates, pgferry's as well).
 * Positions are plain byte numbers (`lsn - '0/0'`), exact below 2^53.
 */
import { Client } from 'pg';
import type { PgCluster } from '../launch/postgres';

export interface LagSample {
  /** Date.now() of the sample. */
  at: number;
  current: number;
  confirmed: number;
  /** pg_stat_replication's flush_lag / replay_lag, seconds (undefined when PostgreSQL has none). */
  flushLag?: number;
  replayLag?: number;
  /** The contender's own opinion, when it has one (sampled less often; see `ownEveryMs`). */
  own?: number;
}

const SLOT_SQL = `
  SELECT (pg_current_wal_lsn() - '0/0')::text AS current, (s.confirmed_flush_lsn - '0/0')::text AS confirmed,
         extract(epoch FROM r.flush_lag)::float8 AS flush_lag, extract(epoch FROM r.replay_lag)::float8 AS replay_lag
    FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
   WHERE s.slot_name = $1`;

function connect(c: PgCluster, db: string): Client {
  return new Client({ host: c.host, port: c.port, user: c.user, password: c.password, database: db });
}

export async function currentLsn(source: PgCluster, db: string): Promise<number> {
  const [row] = await source.query<{ lsn: string }>(`SELECT (pg_current_wal_lsn() - '0/0')::text AS lsn`, db);
  return Number(row.lsn);
}

/** The slot's confirmed position and the source's end of WAL, or undefined when there is no such slot. */
export async function slotPosition(source: PgCluster, db: string, slot: string): Promise<{ current: number; confirmed: number } | undefined> {
  const [row] = await source.query<{ current: string; confirmed: string | null }>(SLOT_SQL, db, [slot]);
  return row && row.confirmed !== null ? { current: Number(row.current), confirmed: Number(row.confirmed) } : undefined;
}

/**
 * How much WAL a walsender starting on the slot reads before the first change it sends:
 * confirmed_flush_lsn - restart_lsn (it decodes from restart_lsn, skipping what was confirmed).
 */
export async function slotRereadBytes(source: PgCluster, db: string, slot: string): Promise<number | undefined> {
  const [row] = await source.query<{ reread: string | null }>(`SELECT (confirmed_flush_lsn - restart_lsn)::text AS reread FROM pg_replication_slots WHERE slot_name = $1`, db, [slot]);
  return row?.reread != null ? Number(row.reread) : undefined;
}

/** Whether a walsender is serving the slot (a paused contender has none: native's DISABLE, pgferry's closed connection). */
export async function slotActive(source: PgCluster, db: string, slot: string): Promise<boolean> {
  const [row] = await source.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', db, [slot]);
  return row?.active === true;
}

/**
 * How far the walsender serving the slot has decoded and sent WAL (0 when none serves it): a
 * paused client that stops reading still lets it decode until the socket buffers are full.
 */
export async function sentPosition(source: PgCluster, db: string, slot: string): Promise<number> {
  const [row] = await source.query<{ sent: string | null }>(
    `SELECT (r.sent_lsn - '0/0')::text AS sent FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid WHERE s.slot_name = $1`,
    db,
    [slot],
  );
  return row?.sent ? Number(row.sent) : 0;
}

export interface LagSampler {
  stop(): Promise<LagSample[]>;
}

/**
 * Samples the slot every `everyMs` on one connection (never two queries at once), and the
 * contender's own view every `ownEveryMs`, until stopped.
 */
export async function sampleLag(source: PgCluster, db: string, slot: string, own?: () => Promise<number | undefined>, everyMs = 100, ownEveryMs = 1000): Promise<LagSampler> {
  const client = connect(source, db);
  await client.connect();
  const samples: LagSample[] = [];
  let lastOwn: number | undefined;
  let busy = false;
  let ownBusy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    client
      .query<{ current: string; confirmed: string | null; flush_lag: number | null; replay_lag: number | null }>(SLOT_SQL, [slot])
      .then(({ rows: [r] }) => {
        if (r && r.confirmed !== null) {
          samples.push({ at: Date.now(), current: Number(r.current), confirmed: Number(r.confirmed), flushLag: r.flush_lag ?? undefined, replayLag: r.replay_lag ?? undefined, own: lastOwn });
        }
      })
      .catch(() => undefined)
      .finally(() => (busy = false));
  }, everyMs);
  const ownTimer = own
    ? setInterval(() => {
        if (ownBusy) return;
        ownBusy = true;
        own()
          .then((v) => (lastOwn = v))
          .catch(() => undefined)
          .finally(() => (ownBusy = false));
      }, ownEveryMs)
    : undefined;
  return {
    async stop() {
      clearInterval(timer);
      if (ownTimer) clearInterval(ownTimer);
      while (busy) await new Promise((r) => setTimeout(r, 10));
      await client.end();
      return samples;
    },
  };
}

/** Only the slot's confirmed position: pg_stat_replication's join (SLOT_SQL) costs the source's backend three times as much. */
const CONFIRMED_SQL = `SELECT (confirmed_flush_lsn - '0/0')::text AS confirmed FROM pg_replication_slots WHERE slot_name = $1`;

/** Between polls of a wait for a position: never longer than this, never shorter than that. */
const POLL_MAX_MS = 20;
const POLL_MIN_MS = 2;
/** Until the slot moves there is no rate to go by. */
const POLL_UNTIL_MOVED_MS = 10;

/**
 * How long to wait before the next poll: a quarter of the time the rest should take at the rate
 * seen so far (so a drain of seconds is polled every 20 ms, and its last moments every few ms),
 * 10 ms while the slot has not moved yet. Each poll costs the source's backend and this process
 * CPU that the contenders share on 2 cores: polling every 10 ms throughout took ~0.3 CPU-s of a
 * 3 s drain.
 */
export function nextPollMs(remainingBytes: number, movedBytes: number, elapsedMs: number): number {
  if (movedBytes <= 0 || elapsedMs <= 0) return POLL_UNTIL_MOVED_MS;
  const etaMs = remainingBytes / (movedBytes / elapsedMs);
  return Math.min(POLL_MAX_MS, Math.max(POLL_MIN_MS, Math.floor(etaMs / 4)));
}

/**
 * Waits until the slot has confirmed `lsn` (polling on one connection, more often near the end:
 * nextPollMs) and returns how long that took from `since`; throws after `timeoutMs` saying how
 * far it got.
 */
export async function waitConfirmed(source: PgCluster, db: string, slot: string, lsn: number, since: number, timeoutMs: number): Promise<number> {
  const client = connect(source, db);
  await client.connect();
  try {
    let first: { confirmed: number; at: number } | undefined;
    let last: number | undefined;
    for (;;) {
      const { rows: [r] } = await client.query<{ confirmed: string | null }>(CONFIRMED_SQL, [slot]);
      const now = Date.now();
      let wait = POLL_UNTIL_MOVED_MS;
      if (r && r.confirmed !== null) {
        last = Number(r.confirmed);
        if (last >= lsn) return now - since;
        first ??= { confirmed: last, at: now };
        wait = nextPollMs(lsn - last, last - first.confirmed, now - first.at);
      }
      if (now - since > timeoutMs) {
        throw new Error(`slot ${slot} did not confirm the end of the load within ${(timeoutMs / 1000).toFixed(0)} s: ${last !== undefined ? `${((lsn - last) / 1048576).toFixed(1)} MB still to go` : 'no such slot'}`);
      }
      await new Promise((r) => setTimeout(r, wait));
    }
  } finally {
    await client.end();
  }
}

export interface LagSummary {
  peakBytes: number;
  avgBytes: number;
  /** Age of the oldest unconfirmed WAL, from the same samples (±50 ms). */
  peakSeconds: number;
  avgSeconds: number;
  peakFlushLag?: number;
  avgFlushLag?: number;
  peakOwn?: number;
  avgOwn?: number;
}

/**
 * The source-side lag in seconds of each sample: how long ago the source's end of WAL first
 * passed the slot's confirmed position (midpoint of the two samples around that moment).
 * Contender-neutral: it needs nothing but the slot.
 */
export function lagSeconds(samples: LagSample[]): number[] {
  const out: number[] = [];
  let j = 0;
  for (const s of samples) {
    if (s.confirmed >= s.current) {
      out.push(0);
      continue;
    }
    while (j < samples.length && samples[j].current <= s.confirmed) j += 1;
    const passed = j === 0 ? samples[0].at : (samples[j - 1].at + samples[Math.min(j, samples.length - 1)].at) / 2;
    out.push(Math.max(0, (s.at - passed) / 1000));
  }
  return out;
}

const peak = (xs: number[]) => (xs.length ? Math.max(...xs) : undefined);
const avg = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined);
const defined = (xs: (number | undefined)[]) => xs.filter((x): x is number => x !== undefined);

/** Peak over all samples (load and catch-up); averages over the samples taken while the load ran. */
export function summarize(samples: LagSample[], loadEndedAt: number): LagSummary {
  const seconds = lagSeconds(samples);
  const during = samples.map((s, i) => ({ s, sec: seconds[i] })).filter(({ s }) => s.at <= loadEndedAt);
  const bytes = samples.map((s) => Math.max(0, s.current - s.confirmed));
  return {
    peakBytes: peak(bytes) ?? 0,
    avgBytes: avg(during.map(({ s }) => Math.max(0, s.current - s.confirmed))) ?? 0,
    peakSeconds: peak(seconds) ?? 0,
    avgSeconds: avg(during.map(({ sec }) => sec)) ?? 0,
    peakFlushLag: peak(defined(samples.map((s) => s.flushLag))),
    avgFlushLag: avg(defined(during.map(({ s }) => s.flushLag))),
    peakOwn: peak(defined(samples.map((s) => s.own))),
    avgOwn: avg(defined(during.map(({ s }) => s.own))),
  };
}
