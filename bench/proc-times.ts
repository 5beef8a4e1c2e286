/** CPU times of the machine's processes, from /proc (Linux): what the benchmarks' CPU accounts are made of. */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PgCluster } from '../launch/postgres';

/** Clock ticks per second of /proc's times (USER_HZ). */
export const TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;

export interface ProcTimes {
  ppid: number;
  /** Its own user + system ticks. */
  self: number;
  /** Its reaped children's. */
  children: number;
  /** System ticks, its own and its reaped children's (part of self + children). */
  system: number;
  /** Minor page faults, its own and its reaped children's. */
  faults: number;
  /** Its own system ticks and minor page faults (children's left out). */
  ownSystem: number;
  ownFaults: number;
}

/** The fields of /proc/<pid>/stat after the command name: state(0) ppid(1) ... minflt(7) cminflt(8) ... utime(11) stime(12) cutime(13) cstime(14). */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // ended meanwhile
  }
}

export function procTimes(pid: number): ProcTimes | undefined {
  const f = statFields(pid);
  return f && { ppid: Number(f[1]), self: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]), system: Number(f[12]) + Number(f[14]), faults: Number(f[7]) + Number(f[8]), ownSystem: Number(f[12]), ownFaults: Number(f[7]) };
}

/** A process's user and system ticks, each its own plus its reaped children's. */
export function userSystemTicks(pid: number): { user: number; system: number } | undefined {
  const t = procTimes(pid);
  return t && { user: t.self + t.children - t.system, system: t.system };
}

/** Every process's times, by pid. */
export function allProcesses(): Map<number, ProcTimes> {
  const all = new Map<number, ProcTimes>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const t = procTimes(Number(entry));
    if (t) all.set(Number(entry), t);
  }
  return all;
}

/** Busy ticks of the whole machine since boot, from /proc/stat: user, nice, system, irq, softirq and steal (all but idle and iowait). */
export function machineBusyTicks(): number {
  const f = machineTicks();
  return f.slice(0, 8).reduce((a, b) => a + b, 0) - f[3] - f[4];
}

/** Ticks the kernel spent in interrupts and soft interrupts (network receive on loopback), which /proc/<pid>/stat charges to no process. */
export function interruptTicks(): number {
  const f = machineTicks();
  return f[5] + f[6];
}

/** /proc/stat's first line: user, nice, system, idle, iowait, irq, softirq, steal, ... ticks. */
function machineTicks(): number[] {
  return readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
}

/** The same in CPU seconds. */
export const machineBusySeconds = (): number => machineBusyTicks() / TICKS;

/** A cluster's postmaster, the root of its processes. */
export function postmasterPid(cluster: Pick<PgCluster, 'dataDir'>): number {
  return Number(readFileSync(join(cluster.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
}

/** The process whose command line holds all of `parts` as separate arguments (the Temporal server by its port). */
export function pidByCommandLine(parts: string[]): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (parts.every((p) => args.includes(p))) return Number(entry);
    } catch {
      // ended while we looked
    }
  }
  return undefined;
}
