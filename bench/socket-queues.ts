/**
 * The kernel's queues on a server's TCP connections, sampled from /proc/net/tcp (Linux): for
 * every connection to `port` on this host, the bytes the server has sent and the peer not yet
 * acknowledged or not yet been sent (its tx_queue), and the bytes the client has received and
 * not yet read (its rx_queue). A drain's replication connection is the one with the most.
 *
 * Why a benchmark looks: a walsender whose client keeps its receive queue empty pays a loopback
 * transmit per message it sends; one whose client lets the queue fill is held by flow control and
 * its messages go out in large segments. The same WAL then costs the source different CPU.
 */
import { readFileSync } from 'node:fs';

const SAMPLE_MS = 20;

interface QueueTotals {
  samples: number;
  /** Sum and peak of the largest server-side send queue seen in a sample. */
  sendSum: number;
  sendPeak: number;
  /** Sum and peak of the largest client-side receive queue seen in a sample. */
  receiveSum: number;
  receivePeak: number;
}

export interface SocketQueueSummary {
  samples: number;
  /** Bytes, mean over the samples and peak. */
  sendMean: number;
  sendPeak: number;
  receiveMean: number;
  receivePeak: number;
}

/** Local port, remote port, tx_queue, rx_queue of each IPv4/IPv6 TCP socket. */
function tcpSockets(): { local: number; remote: number; tx: number; rx: number }[] {
  const out: { local: number; remote: number; tx: number; rx: number }[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 5) continue;
      const [tx, rx] = f[4].split(':').map((h) => parseInt(h, 16));
      out.push({ local: parseInt(f[1].split(':')[1], 16), remote: parseInt(f[2].split(':')[1], 16), tx, rx });
    }
  }
  return out;
}

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

/** Samples the queues of connections to `port` every SAMPLE_MS until stop(). */
export function sampleSocketQueues(port: number): { stop(): SocketQueueSummary } {
  const t: QueueTotals = { samples: 0, sendSum: 0, sendPeak: 0, receiveSum: 0, receivePeak: 0 };
  const sample = () => {
    let send = 0;
    let receive = 0;
    for (const s of tcpSockets()) {
      if (s.local === port) send = Math.max(send, s.tx);
      if (s.remote === port) receive = Math.max(receive, s.rx);
    }
    t.samples += 1;
    t.sendSum += send;
    t.sendPeak = Math.max(t.sendPeak, send);
    t.receiveSum += receive;
    t.receivePeak = Math.max(t.receivePeak, receive);
  };
  const timer = setInterval(sample, SAMPLE_MS);
  return {
    stop() {
      clearInterval(timer);
      const n = Math.max(1, t.samples);
      return { samples: t.samples, sendMean: t.sendSum / n, sendPeak: t.sendPeak, receiveMean: t.receiveSum / n, receivePeak: t.receivePeak };
    },
  };
}
