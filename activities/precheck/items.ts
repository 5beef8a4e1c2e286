/** Building precheck items: one status each, a finding and a sentence saying what to do. */
import type { CheckItem } from '../../common/precheck';

export const pass = (id: string, title: string, advice = 'Nothing to do.'): CheckItem => ({ id, status: 'pass', title, advice });
export const warn = (id: string, title: string, advice: string): CheckItem => ({ id, status: 'warning', title, advice });
export const fail = (id: string, title: string, advice: string): CheckItem => ({ id, status: 'fail', title, advice });

/** "a, b, c and 12 more" */
export function listSome(names: string[], max = 5): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}
