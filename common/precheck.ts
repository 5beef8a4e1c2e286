/**
 * The precheck's items and its verdict. A fail stops a migration; so does a warning the spec
 * does not acknowledge in `precheck.ignore` (as a cloud migration service asks to confirm its
 * warnings before the task goes on). A warning names a risk for this migration's types; what
 * puts nothing of this migration at risk is a note, shown and reported but never in the way.
 * Pure and deterministic: the precheck activity builds its report with it, and the workflow
 * and the CLI read the report.
 */

export type CheckStatus = 'pass' | 'note' | 'warning' | 'fail';

export interface CheckItem {
  /** Stable identifier, the name `precheck.ignore` uses (e.g. `tables-without-key`). */
  id: string;
  status: CheckStatus;
  /** What was checked and what was found. */
  title: string;
  /** A sentence saying what to do (or that nothing needs doing). */
  advice: string;
  /** A warning listed in the spec's precheck.ignore. */
  acknowledged?: boolean;
}

export interface PrecheckSummary {
  pass: number;
  /** Absent in reports from before notes existed. */
  note?: number;
  warning: number;
  fail: number;
  /** Warnings listed in precheck.ignore. */
  acknowledged: number;
}

export interface PrecheckFacts {
  /** Target has every role that owns or is granted something on the source. */
  keepOwnership: boolean;
  /** Tables that exist on both sides (conflicts). */
  conflictingTables: Array<{ schema: string; name: string }>;
  /** The target database does not exist and the target user may create it. */
  createTargetDatabase: boolean;
  /** Incremental: DDL is to be captured on the source and replicated (absent in histories from before). */
  ddlCapture?: boolean;
}

export interface PrecheckReport {
  items: CheckItem[];
  /** No item fails. */
  ok: boolean;
  /** A migration with this spec goes ahead: no item fails and every warning is acknowledged. */
  proceeds: boolean;
  summary: PrecheckSummary;
  /** Ids in precheck.ignore that name no item of this run (a typo, or an item of other types). */
  ignoredNotFound: string[];
  /** Ids in precheck.ignore whose items fail: a fail cannot be ignored. */
  ignoredFails: string[];
  /** Facts the later phases act on. */
  facts: PrecheckFacts;
}

/** Applies the spec's acknowledgements to the items and counts them. */
export function judgePrecheck(items: CheckItem[], ignore: readonly string[], facts: PrecheckFacts): PrecheckReport {
  const ignored = new Set(ignore);
  const judged = items.map((item) => (item.status === 'warning' && ignored.has(item.id) ? { ...item, acknowledged: true } : item));
  const ids = new Set(items.map((i) => i.id));
  const count = (status: CheckStatus) => judged.filter((i) => i.status === status).length;
  const summary: PrecheckSummary = { pass: count('pass'), note: count('note'), warning: count('warning'), fail: count('fail'), acknowledged: judged.filter((i) => i.acknowledged).length };
  const failIds = new Set(judged.filter((i) => i.status === 'fail').map((i) => i.id));
  return {
    items: judged,
    ok: summary.fail === 0,
    proceeds: summary.fail === 0 && summary.acknowledged === summary.warning,
    summary,
    ignoredNotFound: [...ignored].filter((id) => !ids.has(id)),
    ignoredFails: [...ignored].filter((id) => failIds.has(id)),
    facts,
  };
}

/** Warnings the spec does not acknowledge: each one stops a migration. */
export function unacknowledgedWarnings(report: PrecheckReport): CheckItem[] {
  return report.items.filter((i) => i.status === 'warning' && !i.acknowledged);
}

/**
 * The spec line that acknowledges every warning of this run (and nothing else), to replace
 * any precheck.ignore the spec has.
 */
export function ignoreLine(report: PrecheckReport): string {
  const ids = [...new Set(report.items.filter((i) => i.status === 'warning').map((i) => i.id))];
  return `precheck: { ignore: [${ids.join(', ')}] }`;
}

/** Why a migration must stop after this precheck, or undefined when it goes ahead. */
export function precheckStopMessage(report: PrecheckReport): string | undefined {
  const line = (i: CheckItem) => `[${i.id}] ${i.title} ${i.advice}`;
  if (!report.ok) {
    const fails = report.items.filter((i) => i.status === 'fail');
    const ignoredFails = report.ignoredFails.length
      ? ` precheck.ignore lists ${report.ignoredFails.join(', ')}, but a failing item cannot be ignored: fix it and run again.`
      : '';
    return `precheck failed: ${fails.map(line).join(' ')}${ignoredFails}`;
  }
  const pending = unacknowledgedWarnings(report);
  if (!pending.length) return undefined;
  const notFound = report.ignoredNotFound.length ? ` (${ignoredNotFoundNote(report)})` : '';
  return (
    `precheck stopped the migration before anything was written: ${pending.length} warning(s) not acknowledged: ${pending.map(line).join(' ')} ` +
    `To go ahead anyway, confirm at \`pgferry start\`'s prompt (or pass --yes), or set in the spec: ${ignoreLine(report)}${notFound}`
  );
}

/** Ids in precheck.ignore that match nothing: shown so that typos do not go unnoticed. */
export function ignoredNotFoundNote(report: PrecheckReport): string {
  return `precheck.ignore names no item of this run: ${report.ignoredNotFound.join(', ')}`;
}
