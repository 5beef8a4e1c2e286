/**
 * A cluster's CPU by kind of process, from process titles sampled every 100 ms: what
 * `log_statement_stats` cannot show (parallel workers of index builds and scans, the
 * checkpointer, the WAL writer, CPU between statements). A backend's CPU since the last sample
 * goes to the command in its title at that moment (`backend COPY`, `backend CREATE INDEX`,
 * `backend idle in transaction`, ...). Processes that start and end between two samples, and a
 * process's last 100 ms, are missed: a sampling view, not an account.
 */
import { readFileSync } from 'node:fs';
import { allProcesses, TICKS } from './proc-times';

const SAMPLE_MS = 100;
const BACKGROUND = ['checkpointer', 'background writer', 'walwriter', 'autovacuum launcher', 'autovacuum worker', 'parallel worker', 'logical replication', 'walsender', 'archiver', 'logger'];

/** The kind of a postgres process from its title (`postgres: <title>`). */
export function processKind(title: string): string {
  const background = BACKGROUND.find((k) => title.startsWith(k));
  if (background) return background;
  // A backend: "<user> <database> <host(port)> <command>[ waiting]"
  const command = title.split(' ').slice(3).join(' ').replace(/ waiting$/, '');
  return `backend ${command || '?'}`;
}

export interface Child {
  title: string;
  ticks: number;
  /** Its system ticks (part of ticks). */
  system: number;
  /** Its minor page faults. */
  faults: number;
}

/** A postmaster's live children with their titles (`postgres: ` left out), CPU ticks and page faults (their own). */
export function postmasterChildren(postmaster: number): Map<number, Child> {
  const children = new Map<number, Child>();
  for (const [pid, t] of allProcesses()) {
    if (t.ppid !== postmaster) continue;
    try {
      const title = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/^postgres: /, '');
      children.set(pid, { title, ticks: t.self, system: t.ownSystem, faults: t.ownFaults });
    } catch {
      // ended meanwhile
    }
  }
  return children;
}

/** What a kind of process spent: CPU seconds, of which system, and minor page faults. */
export interface KindTotals {
  kind: string;
  seconds: number;
  systemSeconds: number;
  faults: number;
}

/** Samples a postmaster's children from start() to stop(); stop() returns what each kind spent, most CPU first. */
export class ProcessTitleSampler {
  private readonly last = new Map<number, Child>();
  private readonly byKind = new Map<string, { ticks: number; system: number; faults: number }>();
  private timer?: NodeJS.Timeout;

  /** `sampleMs`: how often titles are read (each read walks every process in /proc). */
  constructor(
    private readonly postmaster: number,
    private readonly sampleMs = SAMPLE_MS,
  ) {}

  start(): void {
    for (const [pid, c] of postmasterChildren(this.postmaster)) this.last.set(pid, c); // what ran before is not counted
    this.timer = setInterval(() => this.sample(), this.sampleMs);
  }

  stop(): KindTotals[] {
    clearInterval(this.timer);
    this.sample();
    return [...this.byKind]
      .map(([kind, k]) => ({ kind, seconds: k.ticks / TICKS, systemSeconds: k.system / TICKS, faults: k.faults }))
      .sort((a, b) => b.seconds - a.seconds);
  }

  private sample(): void {
    for (const [pid, c] of postmasterChildren(this.postmaster)) {
      const before = this.last.get(pid) ?? { ticks: 0, system: 0, faults: 0 };
      this.last.set(pid, c);
      const delta = { ticks: c.ticks - before.ticks, system: c.system - before.system, faults: c.faults - before.faults };
      if (delta.ticks > 0 || delta.faults > 0) {
        const kind = processKind(c.title);
        const k = this.byKind.get(kind) ?? { ticks: 0, system: 0, faults: 0 };
        this.byKind.set(kind, { ticks: k.ticks + delta.ticks, system: k.system + delta.system, faults: k.faults + delta.faults });
      }
    }
  }
}
