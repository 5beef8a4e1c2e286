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
}

/** A postmaster's live children with their titles (`postgres: ` left out) and CPU ticks. */
export function postmasterChildren(postmaster: number): Map<number, Child> {
  const children = new Map<number, Child>();
  for (const [pid, t] of allProcesses()) {
    if (t.ppid !== postmaster) continue;
    try {
      const title = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/^postgres: /, '');
      children.set(pid, { title, ticks: t.self });
    } catch {
      // ended meanwhile
    }
  }
  return children;
}

/** Samples a postmaster's children from start() to stop(); stop() returns CPU seconds by kind, most first. */
export class ProcessTitleSampler {
  private readonly last = new Map<number, number>();
  private readonly byKind = new Map<string, number>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly postmaster: number) {}

  start(): void {
    for (const [pid, c] of postmasterChildren(this.postmaster)) this.last.set(pid, c.ticks); // what ran before is not counted
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
  }

  stop(): [string, number][] {
    clearInterval(this.timer);
    this.sample();
    return [...this.byKind].map(([kind, ticks]) => [kind, ticks / TICKS] as [string, number]).sort((a, b) => b[1] - a[1]);
  }

  private sample(): void {
    for (const [pid, c] of postmasterChildren(this.postmaster)) {
      const delta = c.ticks - (this.last.get(pid) ?? 0);
      this.last.set(pid, c.ticks);
      if (delta > 0) {
        const kind = processKind(c.title);
        this.byKind.set(kind, (this.byKind.get(kind) ?? 0) + delta);
      }
    }
  }
}
