import { describe, expect, it } from 'vitest';
import { judgePrecheck, type CheckItem } from '../../common/precheck';
import { validateSpec } from '../../common/spec';
import { gateDecision, precheckBeforeStart, withAcknowledged } from '../../client/start-gate';

const facts = { keepOwnership: true, conflictingTables: [], createTargetDatabase: false };
const item = (id: string, status: CheckItem['status']): CheckItem => ({ id, status, title: `${id} found.`, advice: `Fix ${id}.` });
const parsed = (extra: Record<string, unknown> = {}) => {
  const r = validateSpec({ source: 'postgres://a@h/db', target: 'postgres://a@h2/db', ...extra });
  if (!r.ok) throw new Error(r.problems.join('; '));
  return r.spec;
};

describe("pgferry start's precheck gate", () => {
  const warned = judgePrecheck([item('roles', 'warning'), item('tables-without-key', 'note'), item('disk-space', 'warning')], ['disk-space'], facts);

  it('asks about the warnings not acknowledged (never notes), and --yes acknowledges exactly those', () => {
    expect(gateDecision(warned, { yes: false, interactive: true })).toEqual({ ask: ['roles'] });
    expect(gateDecision(warned, { yes: true, interactive: false })).toEqual({ start: true, acknowledge: ['roles'] });
  });

  it('starts at once when nothing is pending, and never when an item fails', () => {
    const clean = judgePrecheck([item('tables-without-key', 'note')], [], facts);
    expect(gateDecision(clean, { yes: false, interactive: true })).toEqual({ start: true, acknowledge: [] });
    const failing = judgePrecheck([item('roles', 'warning'), item('extensions', 'fail')], [], facts);
    expect(gateDecision(failing, { yes: true, interactive: false })).toMatchObject({ start: false, reason: expect.stringContaining('the precheck fails') });
  });

  it('runs the precheck first only on a terminal or with --yes, and not for several databases', () => {
    expect(precheckBeforeStart(parsed(), { yes: false, interactive: false })).toBe(false);
    expect(precheckBeforeStart(parsed(), { yes: false, interactive: true })).toBe(true);
    expect(precheckBeforeStart(parsed(), { yes: true, interactive: false })).toBe(true);
    expect(precheckBeforeStart(parsed({ databases: ['a', 'b'] }), { yes: true, interactive: true })).toBe(false);
  });

  it('adds the accepted warnings to what the spec already acknowledges', () => {
    const spec = withAcknowledged(parsed({ precheck: { ignore: ['disk-space'] } }), ['roles', 'disk-space']);
    expect(spec.precheck.ignore).toEqual(['disk-space', 'roles']);
    expect(withAcknowledged(parsed(), []).precheck.ignore).toEqual([]);
  });
});
