/**
 * Where the CPU went during a step, from /proc (Linux): the source cluster (mostly its walsender
 * decoding WAL), the target cluster (the apply, for native its apply worker), pgferry's worker,
 * the Temporal server, and everything else on the machine. On 2 shared cores that split says what bounds a rate, and
 * how much other work skewed it.
 */
import type { PgCluster } from '../launch/postgres';
import { allProcesses, machineBusyTicks, postmasterPid, TICKS, type ProcTimes } from './proc-times';

export interface CpuSplit {
  source: number;
  target: number;
  worker: number;
  /** The Temporal dev server (pgferry's signals, queries and heartbeats go through it). */
  temporal: number;
  other: number;
  /** Wall seconds of the step (the machine had 2 × this in CPU seconds). */
  wall: number;
}

/** CPU ticks of a cluster's processes (the postmaster `root` and its children), by pid. */
export function ticksOf(procs: Map<number, ProcTimes>, root: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const [pid, t] of procs) if (pid === root || t.ppid === root) out.set(pid, t.self);
  return out;
}

/** Ticks spent since `before` (a process that started meanwhile counts from zero). */
const since = (now: Map<number, number>, before: Map<number, number>) => [...now].reduce((a, [pid, t]) => a + t - (before.get(pid) ?? 0), 0);

/** Starts counting; `stop()` returns the CPU seconds of each part since. */
export function countCpu(source: PgCluster, target: PgCluster, pids: { worker?: number; temporal?: number }): { stop(): CpuSplit } {
  const roots = { source: postmasterPid(source), target: postmasterPid(target) };
  const one = (procs: Map<number, ProcTimes>, pid?: number) => (pid ? new Map([[pid, procs.get(pid)?.self ?? 0]]) : new Map<number, number>());
  const snap = () => {
    const procs = allProcesses();
    return {
      source: ticksOf(procs, roots.source),
      target: ticksOf(procs, roots.target),
      worker: one(procs, pids.worker),
      temporal: one(procs, pids.temporal),
      machine: machineBusyTicks(),
      at: Date.now(),
    };
  };
  const before = snap();
  return {
    stop() {
      const now = snap();
      const source = since(now.source, before.source) / TICKS;
      const target = since(now.target, before.target) / TICKS;
      const worker = since(now.worker, before.worker) / TICKS;
      const temporal = since(now.temporal, before.temporal) / TICKS;
      const machine = (now.machine - before.machine) / TICKS;
      return { source, target, worker, temporal, other: Math.max(0, machine - source - target - worker - temporal), wall: (now.at - before.at) / 1000 };
    },
  };
}
