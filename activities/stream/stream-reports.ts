/**
 * What the stream tells its workflow every few seconds (the streamStats signal): positions,
 * rates, changes by table, and the DDL applied and committed since. A report that does not
 * reach the workflow (between two runs of a workflow that continues as new) is not lost: its
 * counts are deltas the next report does not repeat, but its DDL records go with the next one.
 */
import type { DdlRecord } from '../../common/ddl';
import type { StreamStats } from '../../common/stream';

/** How often the workflow hears from the stream. */
export const REPORT_MS = 5_000;

export class StreamReports {
  /** DDL applied and committed on the target, not yet reported to the workflow. */
  private readonly ddl: DdlRecord[] = [];
  private lastAt: number;

  /** `send` delivers a report, false when it did not reach the workflow. */
  constructor(
    private readonly stats: () => StreamStats,
    private readonly send: (stats: StreamStats) => Promise<boolean>,
    now = Date.now(),
  ) {
    this.lastAt = now;
  }

  /** The stream starts: the next report is due `REPORT_MS` from now. */
  startClock(now = Date.now()): void {
    this.lastAt = now;
  }

  /** DDL records whose target transaction committed. */
  ddlCommitted(records: DdlRecord[]): void {
    this.ddl.push(...records);
  }

  /** Reports now. */
  async report(): Promise<void> {
    const stats = this.ddl.length ? { ...this.stats(), ddl: this.ddl.splice(0) } : this.stats();
    if (!(await this.send(stats)) && stats.ddl) this.ddl.unshift(...stats.ddl);
  }

  /** Reports when the last report of this loop is `REPORT_MS` old. */
  async reportIfDue(now: number): Promise<void> {
    if (now - this.lastAt < REPORT_MS) return;
    this.lastAt = now;
    await this.report();
  }
}
