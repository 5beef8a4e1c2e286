/**
 * What `pgferry precheck` prints: a table of every item with what to do, a summary, and what
 * the spec's precheck.ignore did; or the same as JSON, in a shape scripts can rely on.
 */
import { ignoreLine, unacknowledgedWarnings, type CheckItem, type PrecheckReport } from '../common/precheck';

const MARK: Record<CheckItem['status'], string> = { pass: 'PASS', note: 'NOTE', warning: 'WARN', fail: 'FAIL' };
const NOTHING_TO_DO = 'Nothing to do.';

export function renderPrecheck(report: PrecheckReport): string {
  const idWidth = Math.max(...report.items.map((i) => i.id.length), 4);
  const indent = ' '.repeat(6 + idWidth + 2);
  const lines = [`${'STAT'.padEnd(6)}${'ITEM'.padEnd(idWidth)}  FINDING AND WHAT TO DO`];
  for (const item of report.items) {
    lines.push(`${MARK[item.status].padEnd(6)}${item.id.padEnd(idWidth)}  ${item.title}`);
    const advice = item.acknowledged ? `acknowledged in precheck.ignore. ${item.advice}` : item.advice;
    if (advice !== NOTHING_TO_DO) lines.push(`${indent}→ ${advice}`);
  }
  lines.push('', ...verdictLines(report));
  return lines.join('\n');
}

function verdictLines(report: PrecheckReport): string[] {
  const { pass, note = 0, warning, fail, acknowledged } = report.summary;
  const lines = [`${report.items.length} items: ${pass} pass, ${note} note(s), ${warning} warning(s) (${acknowledged} acknowledged), ${fail} fail.`];
  if (report.ignoredNotFound.length) lines.push(`Ignored but not found (no such item in this run): ${report.ignoredNotFound.join(', ')}.`);
  if (report.ignoredFails.length) lines.push(`precheck.ignore lists ${report.ignoredFails.join(', ')}, but a failing item cannot be ignored: fix it.`);
  if (!report.ok) {
    lines.push('A migration with this spec would stop here: fix the failing items and run again.');
  } else if (!report.proceeds) {
    lines.push(
      `A migration with this spec would stop at ${unacknowledgedWarnings(report).length} warning(s) not acknowledged; to go ahead anyway, answer yes at \`pgferry start\`'s prompt (or pass --yes), or set in the spec:`,
      `  ${ignoreLine(report)}`,
    );
  } else {
    lines.push('A migration with this spec would go ahead.');
  }
  return lines;
}

/** The `--json` document. */
export interface PrecheckJson {
  /** No item fails (the exit code is 0). */
  ok: boolean;
  /** A migration would go ahead: no fail, and every warning acknowledged. */
  proceeds: boolean;
  summary: { total: number; pass: number; note: number; warning: number; fail: number; acknowledged: number };
  items: Array<{ id: string; status: CheckItem['status']; title: string; advice: string; acknowledged: boolean }>;
  ignoredNotFound: string[];
  ignoredFails: string[];
  /** The precheck.ignore line that acknowledges every warning of this run. */
  ignoreLine: string;
}

export function precheckJson(report: PrecheckReport): PrecheckJson {
  return {
    ok: report.ok,
    proceeds: report.proceeds,
    summary: { total: report.items.length, ...report.summary, note: report.summary.note ?? 0 },
    items: report.items.map((i) => ({ id: i.id, status: i.status, title: i.title, advice: i.advice, acknowledged: Boolean(i.acknowledged) })),
    ignoredNotFound: report.ignoredNotFound,
    ignoredFails: report.ignoredFails,
    ignoreLine: ignoreLine(report),
  };
}
