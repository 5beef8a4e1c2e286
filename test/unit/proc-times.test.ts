// The benchmarks' CPU accounts read /proc/<pid>/stat, whose fields are counted after the
// command name: a name holding spaces and parentheses must not shift them.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { procTimes, TICKS, userSystemTicks } from '../../bench/proc-times';

describe('proc-times', () => {
  it("reads this process's parent and its ticks", () => {
    const until = Date.now() + 50; // some CPU, so that the ticks are not all zero
    while (Date.now() < until);
    const times = procTimes(process.pid)!;
    expect(times.ppid).toBe(process.ppid);
    expect(times.self).toBeGreaterThan(0);
  });

  it('tells user time from system time', async () => {
    // A child that spends 300 ms of user time in a loop (CPU time, however busy the machine), says so, then sleeps.
    const child = spawn(process.execPath, ['-e', "let x = 0; while (process.cpuUsage().user < 300000) for (let i = 0; i < 1e6; i++) x += i; console.log('burnt', x); setTimeout(() => {}, 10000)"]);
    try {
      await new Promise((resolve) => child.stdout.once('data', resolve));
      const split = userSystemTicks(child.pid!)!;
      expect(split.user / TICKS).toBeGreaterThanOrEqual(0.25);
      expect(split.user).toBeGreaterThan(split.system + 0.1 * TICKS);
    } finally {
      child.kill();
    }
  });

  it('counts the page faults of memory a process touches, and its system time in both accounts', async () => {
    // A child that fills 64 MiB it has just allocated (16,384 pages of 4 kB, each a minor fault when first written), says so, then sleeps.
    const child = spawn(process.execPath, ['-e', "const b = Buffer.alloc(64 * 1024 * 1024, 1); console.log('filled', b[12345]); setTimeout(() => {}, 10000)"]);
    try {
      await new Promise((resolve) => child.stdout.once('data', resolve));
      // The child may still spend a tick of system time after it said so (the runtime's threads):
      // the one account's reading lies between two readings of the other.
      const before = userSystemTicks(child.pid!)!.system;
      const times = procTimes(child.pid!)!;
      const after = userSystemTicks(child.pid!)!.system;
      expect(times.ownFaults).toBeGreaterThanOrEqual(16_000);
      expect(times.faults).toBeGreaterThanOrEqual(times.ownFaults);
      expect(times.ownSystem).toBeGreaterThanOrEqual(before);
      expect(times.ownSystem).toBeLessThanOrEqual(after);
      expect(times.system).toBeLessThanOrEqual(times.self + times.children);
    } finally {
      child.kill();
    }
  });

  it('reads a process whose name holds spaces and parentheses, the same in both accounts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgferry-proc-'));
    const program = join(dir, 'a (b) c');
    copyFileSync('/bin/sleep', program);
    const child = spawn(program, ['5']);
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      // until the fork has become the program (and sleeps: its ticks stay put between the two reads)
      while (readFileSync(`/proc/${child.pid}/comm`, 'utf8') !== 'a (b) c\n') await new Promise((r) => setTimeout(r, 10));
      const times = procTimes(child.pid!)!;
      const split = userSystemTicks(child.pid!)!;
      expect(times.ppid).toBe(process.pid);
      expect(split.user + split.system).toBe(times.self + times.children);
    } finally {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says nothing of a process that is not there', () => {
    expect(procTimes(2 ** 22 + 1)).toBeUndefined();
    expect(userSystemTicks(2 ** 22 + 1)).toBeUndefined();
  });
});
