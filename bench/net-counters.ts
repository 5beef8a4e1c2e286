/**
 * The TCP segments this host sent (Linux). A drain reads them before and after, with the CPU
 * the kernel spent in interrupts (proc-times.ts interruptTicks), which no process is charged with:
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
