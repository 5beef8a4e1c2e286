/** Building precheck items: one status each, a finding and a sentence saying what to do. */
import type { CheckItem } from '../../common/precheck';

export const pass = (id: string, title: string, advice = 'Nothing to do.'): CheckItem => ({ id, status: 'pass', title, advice });
/** A risk for this migration: stops it unless acknowledged in precheck.ignore (or at `pgferry start`'s prompt). */
export const warn = (id: string, title: string, advice: string): CheckItem => ({ id, status: 'warning', title, advice });
/** Something to know that puts nothing of this migration at risk: shown and reported, never stops it. */
export const note = (id: string, title: string, advice: string): CheckItem => ({ id, status: 'note', title, advice });
/** A warning where the risk applies to this migration, a note where it does not. */
export const warnIf = (risky: boolean, id: string, title: string, advice: string): CheckItem => (risky ? warn : note)(id, title, advice);
export const fail = (id: string, title: string, advice: string): CheckItem => ({ id, status: 'fail', title, advice });

/** "a, b, c and 12 more" */
export function listSome(names: string[], max = 5): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}
