/**
 * The stream child tells its migration how it stands only when that changes much: caught up or
 * not, or the lag moves to another order of magnitude (and every 10 minutes while behind, for a
 * fresh time left). A report every few seconds would fill the migration's history, which has no
 * continue-as-new; the stream's own page has the live figures.
 */
import { getExternalWorkflowHandle } from '@temporalio/workflow';
import type { StreamOutlook } from '../common/stream-outlook';
import { streamOutlookSignal } from './messages';

/** Lag classes in seconds above "caught up". */
const LAG_CLASSES = [30, 120, 600, 3600];
const REFRESH_BEHIND_MS = 10 * 60_000;

export class OutlookReporter {
  private sent?: { lagClass: number; at: number };

  constructor(private readonly migrationId: string) {}

  due(o: StreamOutlook): boolean {
    const sent = this.sent;
    if (!sent) return true;
    if (lagClass(o) !== sent.lagClass) return true;
    return !o.caughtUp && o.at - sent.at >= REFRESH_BEHIND_MS;
  }

  send(o: StreamOutlook): void {
    this.sent = { lagClass: lagClass(o), at: o.at };
    getExternalWorkflowHandle(this.migrationId)
      .signal(streamOutlookSignal, o)
      .catch(() => undefined); // the migration only displays it
  }
}

function lagClass(o: StreamOutlook): number {
  if (o.caughtUp) return 0;
  const above = LAG_CLASSES.findIndex((limit) => o.lagSeconds < limit);
  return above === -1 ? LAG_CLASSES.length + 1 : above + 1;
}
