/**
 * What bench:cdc prints beside each drain, to tell where its CPU went: what the slot re-reads at
 * the resume (`confirmed_flush_lsn - restart_lsn`), both clusters' CPU by kind of process, the
 * TCP segments sent, the interrupt CPU no process is charged with, and the benchmark process's
 * own CPU (it shares the 2 cores with the contenders). Printed only: the report does not use it.
 */
import type { PgCluster } from '../launch/postgres';
import { slotRereadBytes } from './cdc-lag';
import { tcpSegmentsSent } from './net-counters';
import { interruptTicks, postmasterPid, TICKS } from './proc-times';
import { ProcessTitleSampler, type KindTotals } from './process-titles';

/** Titles once a second: the drain's processes live through it, and each sample walks /proc. */
const TITLE_SAMPLE_MS = 1000;

/** Starts watching just before the resume; `stop(transactions)` returns the lines to print. */
export async function watchDrain(source: PgCluster, target: PgCluster, db: string, slot: string): Promise<{ stop(transactions: number): string[] }> {
  const reread = await slotRereadBytes(source, db, slot);
  const titles = { source: new ProcessTitleSampler(postmasterPid(source), TITLE_SAMPLE_MS), target: new ProcessTitleSampler(postmasterPid(target), TITLE_SAMPLE_MS) };
  titles.source.start();
  titles.target.start();
  const segments = tcpSegmentsSent();
  const interrupts = interruptTicks();
  const cpu = process.cpuUsage();
  return {
    stop(transactions) {
      const kinds = { source: titles.source.stop(), target: titles.target.stop() };
      const sent = tcpSegmentsSent() - segments;
      const benchCpu = process.cpuUsage(cpu);
      return [
        `TCP segments sent ${sent} (${(sent / (transactions || 1)).toFixed(2)} per transaction); interrupts ${((interruptTicks() - interrupts) / TICKS).toFixed(2)} CPU-s; this benchmark process ${((benchCpu.user + benchCpu.system) / 1e6).toFixed(2)} CPU-s`,
        `slot re-read at resume: ${reread === undefined ? '?' : (reread / 1048576).toFixed(1)} MB; source ${kindsLine(kinds.source)}; target ${kindsLine(kinds.target)}`,
      ];
    },
  };
}

/** A cluster's CPU seconds by kind of process (user+system, of which system), the busiest first. */
function kindsLine(kinds: KindTotals[]): string {
  return kinds
    .filter((k) => k.seconds >= 0.05)
    .map((k) => `${k.kind} ${k.seconds.toFixed(2)} (sys ${k.systemSeconds.toFixed(2)})`)
    .join(', ');
}
