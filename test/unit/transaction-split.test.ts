import { describe, expect, it } from 'vitest';
import { isSessionSetting, lockBudget, lockEstimate, statementHead } from '../../activities/schema/transaction-split';

describe('transaction split', () => {
  it('reads a statement past the comments pg_restore writes before it', () => {
    expect(statementHead('--\n-- Name: t; Type: TABLE\n--\n\n/* x */ CREATE TABLE t (a int);')).toBe('CREATE TABLE t (a int);');
    expect(statementHead('-- only a comment')).toBe('');
  });

  it('tells session settings (run again on a retry) from what a transaction commits', () => {
    expect(isSessionSetting("SET default_tablespace = '';")).toBe(true);
    expect(isSessionSetting("--\nSELECT pg_catalog.set_config('search_path', '', false);")).toBe(true);
    expect(isSessionSetting('SELECT pg_catalog.setval(...)')).toBe(false);
    expect(isSessionSetting('CREATE TABLE settings (a int);')).toBe(false);
  });

  it('counts a table with its TOAST table and index, a view with what it reads', () => {
    expect(lockEstimate('CREATE TABLE public.t (a int);')).toBe(3);
    expect(lockEstimate('-- x\nCREATE UNLOGGED TABLE t (a int);')).toBe(3);
    expect(lockEstimate('CREATE OR REPLACE VIEW v AS SELECT 1;')).toBe(4);
    expect(lockEstimate('CREATE MATERIALIZED VIEW m AS SELECT 1;')).toBe(4);
    expect(lockEstimate('CREATE SEQUENCE s;')).toBe(1);
    expect(lockEstimate('ALTER TABLE ONLY t ALTER COLUMN a SET DEFAULT 1;')).toBe(1);
  });

  it('budgets half the lock table of the server', () => {
    expect(lockBudget(64, 100, 0)).toBe(3200);
    expect(lockBudget(1, 10, 0)).toBe(64);
  });
});
