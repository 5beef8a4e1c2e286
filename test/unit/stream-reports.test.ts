import { describe, expect, it } from 'vitest';
import { REPORT_MS, StreamReports } from '../../activities/stream/stream-reports';
import type { DdlRecord } from '../../common/ddl';
import type { StreamStats } from '../../common/stream';

const stats = (at: number): StreamStats => ({ appliedLsn: '0/0', sourceLsn: '0/0', lagBytes: 0, lagSeconds: 0, changesPerSecond: 0, tableDeltas: [], transactions: 0, at });
const record = (lsn: string): DdlRecord => ({ lsn, tag: 'ALTER TABLE', statement: 'ALTER TABLE t ADD c int', action: 'applied' });

describe('stream reports to the workflow', () => {
  it('reports every few seconds of the loop', async () => {
    const sent: StreamStats[] = [];
    const reports = new StreamReports(() => stats(0), async (s) => (sent.push(s), true), 1_000);
    await reports.reportIfDue(1_000 + REPORT_MS - 1);
    expect(sent).toHaveLength(0);
    await reports.reportIfDue(1_000 + REPORT_MS);
    await reports.reportIfDue(1_000 + REPORT_MS + 1);
    expect(sent).toHaveLength(1);
    reports.startClock(50_000);
    await reports.reportIfDue(50_000 + REPORT_MS - 1);
    expect(sent).toHaveLength(1);
  });

  it('sends the DDL committed since the last report, once', async () => {
    const sent: StreamStats[] = [];
    const reports = new StreamReports(() => stats(0), async (s) => (sent.push(s), true));
    reports.ddlCommitted([record('0/10'), record('0/20')]);
    await reports.report();
    await reports.report();
    expect(sent.map((s) => s.ddl?.map((r) => r.lsn))).toEqual([['0/10', '0/20'], undefined]);
  });

  it('keeps DDL records that did not reach the workflow for the next report, in order', async () => {
    const sent: StreamStats[] = [];
    let reachable = false;
    const reports = new StreamReports(() => stats(0), async (s) => (reachable ? (sent.push(s), true) : false));
    reports.ddlCommitted([record('0/10')]);
    await reports.report(); // between two runs of the workflow
    reports.ddlCommitted([record('0/20')]);
    reachable = true;
    await reports.report();
    expect(sent.map((s) => s.ddl?.map((r) => r.lsn))).toEqual([['0/10', '0/20']]);
  });
});
