/** Peak memory of a process tree, sampled from /proc (Linux). */
import { readdirSync, readFileSync } from 'node:fs';

/**
 * Direct children of a process, from each of its threads' `children` file: a few small reads
 * per process of the tree, instead of a scan of every process on the machine, so that the
 * sampling takes little CPU from the tool being timed.
 */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const list = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      if (list) out.push(...list.split(' ').map(Number));
    }
  } catch {
    // the process ended while we looked
  }
  return out;
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
export function sampleTreeRss(rootPid: number, everyMs = 100): { stop(): number } {
  let peak = 0;
  const timer = setInterval(() => {
    let total = 0;
    const stack = [rootPid];
    while (stack.length) {
      const pid = stack.pop()!;
      total += pssBytes(pid);
      stack.push(...childrenOf(pid));
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
