/**
 * Online verification while streaming (`pgferry verify`, `incremental.verify`): what a round
 * reports and what the migration keeps of it. Small facts only (counts, LSNs, chunk ranges):
 * never row values. Deterministic, shared by the workflow, the activity and the CLI.
 */

/** What `pgferry verify` asks for. */
export interface VerifyRequest {
  /** Copy again, under the stream's rules, every chunk that differs twice. */
  repair?: boolean;
  /** Rows per chunk of a table with a one-column integer key (default 100,000). */
  chunkRows?: number;
}

/** A chunk whose rows differ between source and target at the round's position. */
export interface ChunkDifference {
  schema: string;
  name: string;
  /** As describeChunk writes it: `chunk 2/4 (id 50000–99999)`, or `whole table`. */
  chunk: string;
  sourceRows: number;
  targetRows: number;
  /** Keys whose rows differ (missing on one side or unequal), when the table is chunked by key. */
  keysDiffering?: number;
  /** The smallest of those keys (an integer key, as the chunk bounds are). */
  firstKey?: string;
  /** Equal when looked at again under a later position: the first look saw lag, not divergence. */
  equalOnRecheck?: boolean;
  /** Copied again from the source at `repairLsn`: the target's rows are the source's now. */
  repaired?: boolean;
}

/** One verification round, as the activity returns it. */
export interface VerificationRound {
  /** The source position both sides were compared at. */
  lsn: string;
  /** Worker time the round started and took. */
  startedAt: string;
  ms: number;
  tables: number;
  rows: number;
  chunks: number;
  /** How long the stream was held at the position (from reaching it to the target snapshot), and before it (while the slot was made). */
  pauseMs: number;
  preHoldMs: number;
  /** Tries to hold the stream at a fresh position (a stream that moved on or restarted meanwhile costs one). */
  attempts: number;
  differing: ChunkDifference[];
  /** All differing chunks (`differing` lists at most 50). */
  differingChunks: number;
  repairedChunks: number;
  /** The position of the repair (a second hold), when chunks were re-checked or repaired. */
  repairLsn?: string;
  repairPauseMs?: number;
}

/** A round as the migration keeps it: when it started (workflow time) and whether every table was equal at its end. */
export interface VerificationRecord extends VerificationRound {
  /** Workflow time (ms) the round was asked for: "verified since" counts from here. */
  requestedAt: number;
  repair: boolean;
  /** No chunk left differing (none differed, or each was equal on re-check or repaired). */
  clean: boolean;
}

/** What the migration shows (progress, Web UI, report). */
export interface VerificationView {
  rounds: number;
  running?: { since: number; repair: boolean };
  last?: VerificationRecord;
  /** Workflow time of the latest clean round. */
  lastCleanAt?: number;
  /** Sums over every round. */
  rowsVerified: number;
  chunksDiffering: number;
  chunksRepaired: number;
  /** The last round that failed, and why. */
  lastFailure?: string;
}

/** Chunks still differing after a round (not equal on re-check, not repaired). */
export function unresolved(round: VerificationRound): number {
  return round.differingChunks - round.differing.filter((d) => d.repaired || d.equalOnRecheck).length;
}

export function isClean(round: VerificationRound): boolean {
  return unresolved(round) === 0;
}

/**
 * Why a cutover that requires verification since `sinceMs` is refused, or undefined when the
 * latest round started at or after it and left every table equal.
 */
export function verifiedRefusal(view: VerificationView | undefined, sinceMs: number | undefined, sinceText: string): string | undefined {
  const last = view?.last;
  if (!last) return `no verification round has run (run pgferry verify <id> first, or set incremental.verify.every)`;
  if (sinceMs !== undefined && last.requestedAt < sinceMs) {
    return `the last verification round started at ${new Date(last.requestedAt).toISOString()}, before ${sinceText}: run pgferry verify <id> again`;
  }
  if (!last.clean) {
    const d = last.differing.find((x) => !x.repaired && !x.equalOnRecheck);
    return `the last verification round (at ${last.lsn}) found ${unresolved(last)} chunk(s) differing${d ? `, e.g. ${d.schema}.${d.name} ${d.chunk}` : ''}: run pgferry verify <id> --repair`;
  }
  return undefined;
}

/** Text of a round for the CLI and the report. */
export function describeRound(r: VerificationRound): string {
  const rate = r.ms > 0 ? Math.round(r.rows / (r.ms / 1000)) : 0;
  const head =
    `Verified ${r.tables} tables, ${r.rows} rows in ${r.chunks} chunks at source LSN ${r.lsn} in ${(r.ms / 1000).toFixed(1)} s (${rate} rows/s); ` +
    `stream held ${r.pauseMs} ms (+${r.preHoldMs} ms while the position was taken)${r.attempts > 1 ? `, ${r.attempts} tries` : ''}.`;
  const lines = [head, `${r.differingChunks} chunk(s) differing${r.repairedChunks ? `, ${r.repairedChunks} repaired at ${r.repairLsn} (stream held ${r.repairPauseMs} ms)` : ''}.`];
  for (const d of r.differing) {
    const keys = d.keysDiffering !== undefined ? `, ${d.keysDiffering} key(s) differ${d.firstKey !== undefined ? ` from ${d.firstKey}` : ''}` : '';
    const outcome = d.repaired ? ' — repaired' : d.equalOnRecheck ? ' — equal on re-check (lag, not divergence)' : '';
    lines.push(`  ${d.schema}.${d.name} ${d.chunk}: source ${d.sourceRows} rows, target ${d.targetRows}${keys}${outcome}`);
  }
  if (r.differingChunks > r.differing.length) lines.push(`  … and ${r.differingChunks - r.differing.length} more`);
  return lines.join('\n');
}

/**
 * `--require-verified=<since>`: an ISO 8601 date-time, or a duration back from `now`
 * (`30m`, `2h`, `1d`, `90s`). Throws a message naming the value when it is neither.
 */
export function parseSince(text: string, now: number): number {
  const duration = /^(\d+(?:\.\d+)?)\s*(s|m|h|d)$/.exec(text.trim());
  if (duration) return now - Number(duration[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[duration[2] as 's' | 'm' | 'h' | 'd'];
  const ms = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(text) || !Number.isFinite(ms)) {
    throw new Error(`--require-verified: ${JSON.stringify(text)} is neither an ISO 8601 date-time (2026-03-01T02:00:00Z) nor a duration back from now (30m, 2h, 1d)`);
  }
  return ms;
}

/** The Web UI's lines (Markdown): the last round, totals, a round running. */
export function verificationMarkdown(v: VerificationView): string[] {
  const lines: string[] = [];
  const last = v.last;
  if (last) {
    const rate = last.ms > 0 ? Math.round(last.rows / (last.ms / 1000)) : 0;
    lines.push(
      `**Verification:** ${last.clean ? 'clean' : `${unresolved(last)} chunk(s) differ`} at LSN ${last.lsn} (${new Date(last.requestedAt).toISOString().slice(0, 19)}Z) · ${last.tables} tables, ${last.rows} rows, ${last.chunks} chunks, ${rate} rows/s · stream held ${last.pauseMs} ms` +
        `${last.repairedChunks ? ` · ${last.repairedChunks} repaired at ${last.repairLsn}` : ''}`,
    );
    for (const d of last.differing.slice(0, 10)) lines.push(`- ${d.schema}.${d.name} ${d.chunk}: source ${d.sourceRows} rows, target ${d.targetRows}${d.repaired ? ' — repaired' : d.equalOnRecheck ? ' — equal on re-check' : ''}`);
  }
  lines.push(`**Verification totals:** ${v.rounds} round(s), ${v.rowsVerified} rows verified, ${v.chunksDiffering} chunk(s) found differing, ${v.chunksRepaired} repaired`);
  if (v.running) lines.push(`**Verification running** since ${new Date(v.running.since).toISOString().slice(11, 19)} UTC${v.running.repair ? ' (with repair)' : ''}`);
  if (v.lastFailure) lines.push(`**Last verification round failed:** ${v.lastFailure.slice(0, 300)}`);
  return lines;
}

/** The CLI's lines (status and report). */
export function verificationText(v: VerificationView): string {
  const lines = [`verification: ${v.rounds} round(s), ${v.rowsVerified} rows verified, ${v.chunksDiffering} chunk(s) found differing, ${v.chunksRepaired} repaired`];
  if (v.last) lines.push(`  last round (${new Date(v.last.requestedAt).toISOString()}, ${v.last.clean ? 'clean' : 'NOT clean'}): ${describeRound(v.last).replace(/\n/g, '\n  ')}`);
  if (v.running) lines.push(`  a round is running since ${new Date(v.running.since).toISOString()}${v.running.repair ? ' (with repair)' : ''}`);
  if (v.lastFailure) lines.push(`  last round failed: ${v.lastFailure}`);
  return lines.join('\n');
}
