/**
 * When each long statement ran on a cluster, and how busy the machine was meanwhile: the
 * critical path of a migration, which per-kind CPU sums cannot show. The cluster logs every
 * statement that took 100 ms or more with its end time and duration (`%m`, `duration: … ms`);
 * the machine's busy cores are sampled every second from /proc/stat; pgferry's activities come
 * from its workflows' histories.
 */
import { Client, Connection } from '@temporalio/client';
import { machineBusySeconds } from './proc-times';

/** Settings that make a cluster log what the timeline reads (times in UTC, as it parses them). */
export const TIMELINE_SETTINGS = { log_min_duration_statement: '100', log_line_prefix: '%m [%p] ', log_timezone: 'UTC' };

/** Busy cores, one figure per second, from start() to stop(). */
export class BusyCores {
  private readonly figures: number[] = [];
  private timer?: NodeJS.Timeout;
  private last = 0;

  start(): void {
    this.last = machineBusySeconds();
    this.timer = setInterval(() => {
      const now = machineBusySeconds();
      this.figures.push(now - this.last);
      this.last = now;
    }, 1000);
  }

  stop(): number[] {
    clearInterval(this.timer);
    return this.figures;
  }
}

export interface TimedStatement {
  startS: number;
  endS: number;
  pid: number;
  sql: string;
}

/** Statements of a log slice with their start and end in seconds after `since` (epoch ms). */
export function timedStatements(log: string, since: number): TimedStatement[] {
  // "2026-12-05 19:50:01.123 UTC [1234] LOG:  duration: 2345.678 ms  statement: COPY …"
  const re = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) UTC \[(\d+)\] LOG:\s+duration: ([\d.]+) ms\s+(?:statement|execute [^:]*): ([^\n]*)/gm;
  const out: TimedStatement[] = [];
  for (const m of log.matchAll(re)) {
    const end = Date.parse(`${m[1].replace(' ', 'T')}Z`) - since;
    out.push({ startS: (end - Number(m[3])) / 1000, endS: end / 1000, pid: Number(m[2]), sql: m[4].replace(/\s+/g, ' ').slice(0, 80) });
  }
  return out.sort((a, b) => a.startS - b.startS);
}

export function printTimeline(cluster: string, statements: TimedStatement[], cores: number[]): void {
  console.log(`  ${cluster} statements of 100 ms or more (start → end s, backend):`);
  for (const s of statements) console.log(`    ${s.startS.toFixed(1).padStart(5)} → ${s.endS.toFixed(1).padStart(5)}  [${s.pid}] ${s.sql}`);
  console.log(`  busy cores by second: ${cores.map((c) => c.toFixed(1)).join(' ')}`);
}

/** Each workflow started since `since` (epoch ms; a migration and its children) and its activities: when each was scheduled, started and closed. */
export async function printWorkflowTimeline(temporalAddress: string, since: number): Promise<void> {
  const connection = await Connection.connect({ address: temporalAddress });
  try {
    const client = new Client({ connection });
    const at = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
      t ? ((Number(t.seconds) * 1000 + (t.nanos ?? 0) / 1e6 - since) / 1000).toFixed(2).padStart(6) : '     -';
    console.log('  workflow timeline (scheduled / started / closed s):');
    for await (const wf of client.workflow.list({ query: `StartTime > "${new Date(since).toISOString()}"` })) {
      const events = (await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory()).events ?? [];
      const open = new Map<string, { name: string; scheduled: string; started?: string }>();
      console.log(`    ${wf.workflowId} (${wf.type}) ${at(events[0]?.eventTime)} → ${at(events.at(-1)?.eventTime)}`);
      for (const e of events) {
        const id = String(e.eventId);
        if (e.activityTaskScheduledEventAttributes) open.set(id, { name: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?', scheduled: at(e.eventTime) });
        const started = e.activityTaskStartedEventAttributes;
        if (started) open.get(String(started.scheduledEventId))!.started = at(e.eventTime);
        const closed = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
        if (closed) {
          const a = open.get(String(closed.scheduledEventId))!;
          console.log(`      ${a.scheduled} ${a.started ?? '     -'} ${at(e.eventTime)}  ${a.name}`);
        }
      }
    }
  } finally {
    await connection.close();
  }
}
