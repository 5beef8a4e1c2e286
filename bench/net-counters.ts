/**
 * Machine-wide network counters (Linux): the TCP segments sent, and the CPU the kernel spent in
 * interrupts, which /proc/<pid>/stat charges to no process. A drain reads both before and after:
 * a walsender whose client keeps its receive queue empty would send a segment per pgoutput
 * message, and the receive side of loopback TCP runs in soft interrupts. (Measured: 0.02-0.07
 * segments per pgbench transaction for native and pgferry alike, and interrupts ~0: the
 * walsender's messages leave in large segments for both.)
 */
import { readFileSync } from 'node:fs';

/** TCP segments sent by this host so far (/proc/net/snmp OutSegs; on loopback every segment is also received here). */
export function tcpSegmentsSent(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Tcp:'));
  const [names, values] = lines.map((l) => l.split(/\s+/));
  return Number(values[names.indexOf('OutSegs')]);
}

/** CPU ticks the kernel spent in interrupts and soft interrupts (network receive on loopback), which /proc/<pid>/stat charges to no process. */
export function interruptTicks(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return f[5] + f[6];
}
