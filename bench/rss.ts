/** Peak memory of a process tree, sampled from /proc (Linux). */
import { readdirSync, readFileSync } from 'node:fs';

function children(): Map<number, number[]> {
  const byParent = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = byParent.get(ppid) ?? [];
      list.push(Number(entry));
      byParent.set(ppid, list);
    } catch {
      // the process ended while we looked
    }
  }
  return byParent;
}

function rssBytes(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** The high-water mark of one process (kernel-tracked, exact). */
export function peakRssOf(pid: number): number {
  return rssBytes(pid, 'VmHWM');
}

/**
 * Proportional set size: shared pages are split between the processes sharing them, so the
 * sum over a forking tool's processes (pgcopydb) does not count shared memory many times.
 */
function pssBytes(pid: number): number {
  try {
    const m = /Pss:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) * 1024 : rssBytes(pid);
  } catch {
    return 0;
  }
}

/** Samples the summed memory (PSS) of a process and all its descendants until stopped. */
export function sampleTreeRss(rootPid: number, everyMs = 50): { stop(): number } {
  let peak = 0;
  const timer = setInterval(() => {
    const tree = children();
    let total = 0;
    const stack = [rootPid];
    while (stack.length) {
      const pid = stack.pop()!;
      total += pssBytes(pid);
      stack.push(...(tree.get(pid) ?? []));
    }
    peak = Math.max(peak, total);
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}
