import { describe, expect, it } from 'vitest';
import { ignoreLine, judgePrecheck, precheckStopMessage, type CheckItem } from '../../common/precheck';

const facts = { keepOwnership: true, conflictingTables: [], createTargetDatabase: false };
const item = (id: string, status: CheckItem['status']): CheckItem => ({ id, status, title: `${id} found.`, advice: `Fix ${id}.` });

describe('the precheck verdict', () => {
  it('goes ahead past notes, which need no acknowledging, and keeps an old spec that acknowledges one valid', () => {
    const report = judgePrecheck([item('source-connect', 'pass'), item('tables-without-key', 'note'), item('ddl-during-migration', 'note')], ['ddl-during-migration'], facts);
    expect(report).toMatchObject({ ok: true, proceeds: true, ignoredNotFound: [], ignoredFails: [] });
    expect(report.items[2].acknowledged).toBeUndefined();
    expect(report.summary).toEqual({ pass: 1, note: 2, warning: 0, fail: 0, acknowledged: 0 });
    expect(precheckStopMessage(report)).toBeUndefined();
    expect(ignoreLine(report)).toBe('precheck: { ignore: [] }');
  });

  it('goes ahead when nothing fails and every warning is acknowledged', () => {
    const report = judgePrecheck([item('source-connect', 'pass'), item('tables-without-key', 'warning')], ['tables-without-key'], facts);
    expect(report.ok).toBe(true);
    expect(report.proceeds).toBe(true);
    expect(report.items[1].acknowledged).toBe(true);
    expect(report.summary).toEqual({ pass: 1, note: 0, warning: 1, fail: 0, acknowledged: 1 });
    expect(precheckStopMessage(report)).toBeUndefined();
  });

  it('stops at a warning that is not acknowledged and prints the exact ignore line', () => {
    const report = judgePrecheck([item('tables-without-key', 'warning'), item('c-functions', 'warning')], ['c-functions'], facts);
    expect(report.ok).toBe(true);
    expect(report.proceeds).toBe(false);
    const message = precheckStopMessage(report)!;
    expect(message).toMatch(/^precheck stopped the migration before anything was written: 1 warning\(s\) not acknowledged: \[tables-without-key\] tables-without-key found\. Fix tables-without-key\./);
    expect(message).not.toContain('[c-functions]');
    expect(message).toMatch(/set in the spec: precheck: \{ ignore: \[tables-without-key, c-functions\] \}$/);
    expect(ignoreLine(report)).toBe('precheck: { ignore: [tables-without-key, c-functions] }');
  });

  it('never lets an ignored fail pass, and says so', () => {
    const report = judgePrecheck([item('target-conflicts', 'fail'), item('roles', 'warning')], ['target-conflicts', 'roles'], facts);
    expect(report.ok).toBe(false);
    expect(report.proceeds).toBe(false);
    expect(report.items[0].acknowledged).toBeUndefined();
    expect(report.ignoredFails).toEqual(['target-conflicts']);
    expect(precheckStopMessage(report)).toMatch(/^precheck failed: \[target-conflicts\] .* precheck\.ignore lists target-conflicts, but a failing item cannot be ignored/);
  });

  it('names ignored ids that match no item, without failing for them', () => {
    const report = judgePrecheck([item('tables-without-key', 'warning')], ['tables-without-key', 'tabels-without-key'], facts);
    expect(report.ignoredNotFound).toEqual(['tabels-without-key']);
    expect(report.proceeds).toBe(true);
    const typo = judgePrecheck([item('tables-without-key', 'warning')], ['tabels-without-key'], facts);
    expect(precheckStopMessage(typo)).toMatch(/ignore: \[tables-without-key\] \} \(precheck\.ignore names no item of this run: tabels-without-key\)$/);
  });
});
