/**
 * What `pgferry start` does before starting: on a terminal (or with --yes) it runs the
 * precheck, shows its table and, when warnings would stop the migration, asks to go ahead.
 * Going ahead adds exactly the warnings shown to the spec's precheck.ignore: the workflow runs
 * the precheck again and remains the authority (a warning that appears only then still stops
 * it). Without a terminal and without --yes nothing is asked and the spec goes as it is.
 */
import { createInterface } from 'node:readline/promises';
import { unacknowledgedWarnings, type PrecheckReport } from '../common/precheck';
import type { MigrationSpec } from '../common/spec';

export interface GateOptions {
  /** --yes: go ahead past warnings without asking (scripts). */
  yes: boolean;
  /** stdin and stdout are a terminal, not --json, not CI: a person can answer. */
  interactive: boolean;
}

/** Whether start runs the precheck first. A spec of several databases prechecks each database in its own migration. */
export function precheckBeforeStart(spec: MigrationSpec, options: GateOptions): boolean {
  return !spec.databases && (options.yes || options.interactive);
}

export function isInteractive(json: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(process.stdin.isTTY && process.stdout.isTTY) && !json && !env.CI;
}

export type GateDecision =
  | { start: true; acknowledge: string[] }
  | { start: false; reason: string }
  | { ask: string[] };

/** The decision the report allows; `ask` when only a person's answer can settle it. */
export function gateDecision(report: PrecheckReport, options: GateOptions): GateDecision {
  if (!report.ok) return { start: false, reason: 'not started: the precheck fails (see above); fix the failing items and run again' };
  const pending = [...new Set(unacknowledgedWarnings(report).map((i) => i.id))];
  if (!pending.length) return { start: true, acknowledge: [] };
  if (options.yes) return { start: true, acknowledge: pending };
  return { ask: pending };
}

/** The spec with these warnings acknowledged besides the ones it already lists. */
export function withAcknowledged(spec: MigrationSpec, ids: string[]): MigrationSpec {
  if (!ids.length) return spec;
  const ignore = [...new Set([...(spec.precheck?.ignore ?? []), ...ids])];
  return { ...spec, precheck: { ...spec.precheck, ignore } };
}

/** Asks on the terminal; anything but y or yes is a no. */
export async function askToGoAhead(ids: string[]): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question(`Go ahead despite ${ids.length} warning(s) (${ids.join(', ')})? [y/N] `);
    return /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    rl.close();
  }
}
