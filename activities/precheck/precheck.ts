/**
 * The precheck: every item pass / warning / fail, nothing written. Runs first in every
 * migration and alone for `pgferry precheck`; the report says whether a migration goes ahead
 * (common/precheck.ts: no fail, every warning acknowledged in precheck.ignore).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Client } from 'pg';
import type { MigrationSpec } from '../../common/spec';
import { judgePrecheck, type CheckItem, type PrecheckFacts, type PrecheckReport } from '../../common/precheck';
import { readDatabaseLocale } from '../database/database-locale';
import { closeInBackground } from '../db';
import type { ActivityDeps } from '../deps';
import * as checks from './checks';
import { connectSide, connectTarget } from './connect';
import { checkTargetDatabase, checkTargetDatabaseName, targetNameProblem } from './database-checks';
import { incrementalChecks } from './incremental-checks';
import { wayBackChecks } from './way-back-checks';
import { ddlCaptureCheck } from './ddl-capture-check';
import { watchSourceWrites } from './source-writes-check';
import { checkCollations, checkDatabaseLocale, encodingItem } from './locale-checks';
import { checkSourcePrivileges, checkTargetPrivileges, checkTargetTablePrivileges } from './privilege-checks';
import { checkDiskSpace } from './space-checks';
import { selectionChecks, type SelectionCheckResult } from './selection-checks';
import { checkReportSize } from './report-size-check';
import { workerIdentity } from '../worker-identity';
import { largeObjectChecks } from './large-object-checks';
import { largeObjectsWanted } from '../../common/large-objects';
import { selectsEverything } from '../../common/selection';
import { displayName } from '../../common/plan';

export type PrecheckInput = Pick<MigrationSpec, 'source' | 'target' | 'conflicts' | 'types'> & Partial<Pick<MigrationSpec, 'incremental' | 'precheck' | 'objects'>>;

interface Sides {
  src: Client;
  /** The target database, or its server's maintenance database when it does not exist yet. */
  tgt: Client;
  targetExists: boolean;
}

export function makePrecheck(deps: ActivityDeps) {
  return async function precheck(input: PrecheckInput): Promise<PrecheckReport> {
    const items: CheckItem[] = [];
    const facts: PrecheckFacts = { keepOwnership: true, conflictingTables: [], createTargetDatabase: false };
    let src: Client | undefined;
    let tgt: Client | undefined;
    try {
      src = await connectSide(deps, 'source', input.source, items);
      const nameProblem = targetNameProblem(input.target.database);
      if (nameProblem) {
        items.push(nameProblem); // connecting could reach the database the name is cut to
      } else {
        const target = await connectTarget(deps, input.target, items);
        tgt = target.client;
        if (tgt) items.push(await checkTargetDatabaseName(tgt, input.target.database));
        if (src && tgt) items.push(...(await catalogChecks(deps, input, { src, tgt, targetExists: target.exists }, facts)));
      }
    } finally {
      closeInBackground(src);
      closeInBackground(tgt);
    }
    return judgePrecheck(items, input.precheck?.ignore ?? [], facts);
  };
}

async function catalogChecks(deps: ActivityDeps, input: PrecheckInput, sides: Sides, facts: PrecheckFacts): Promise<CheckItem[]> {
  const { src, tgt, targetExists } = sides;
  const withSchema = input.types.includes('schema');
  const withData = input.types.includes('full');
  const items: CheckItem[] = [];
  const sourceWrites = withData && !input.types.includes('incremental') ? await watchSourceWrites(src) : undefined;
  const database = await checkTargetDatabase(src, tgt, input.target.database, targetExists);
  items.push(database);
  facts.createTargetDatabase = !targetExists && database.status === 'pass';
  items.push(...(await checks.checkVersions(src, tgt, await pgDumpMajor(deps))));

  const sourceLocale = await readDatabaseLocale(src);
  const targetLocale = targetExists ? await readDatabaseLocale(tgt) : undefined;
  items.push(encodingItem(sourceLocale, targetLocale));
  items.push(await checkDatabaseLocale(sourceLocale, targetLocale, tgt));
  items.push(await checkCollations(src, tgt, { withSchema, targetExists, encoding: sourceLocale.encoding }));

  // With an objects section, conflicts are looked up by target names, with per-table modes.
  let selection: SelectionCheckResult | undefined;
  if (input.objects && !selectsEverything(input.objects)) {
    selection = await selectionChecks(src, tgt, input.objects, input.conflicts, withSchema && targetExists, streamOperationsOf(input));
  }
  if (withSchema && targetExists) facts.conflictingTables = selection ? selection.conflictingTables : await checks.findConflicts(src, tgt);
  items.push(await checkSourcePrivileges(src));
  items.push(await checkTargetPrivileges(src, tgt, { withSchema, targetExists }));
  // A conflict passes only under conflicts: ignore (for all tables or, with objects, for that one).
  const keptTables = selection ? selection.conflictingTargets : input.conflicts === 'ignore' ? facts.conflictingTables : [];
  items.push(await checkTargetTablePrivileges(src, tgt, { withSchema, withData, targetExists, keptTables, selectedTargets: selection?.targets }));
  items.push(await checkDiskSpace(src, tgt, input.target.host, withData));

  items.push(await checks.checkExtensions(src, tgt));
  items.push(await checks.checkCFunctions(src, withSchema));
  items.push(await checks.checkKeys(src, selection && new Set(selection.selected.map(displayName))));
  items.push(await checks.checkLockCapacity(src));
  items.push(await checkReportSize(src, workerIdentity(), selection?.selected));
  const roles = await checks.checkRoles(src, tgt, withSchema);
  items.push(roles.item);
  facts.keepOwnership = roles.keepOwnership;
  if (input.types.includes('incremental')) {
    const ddl = await ddlCaptureCheck(src, input.incremental?.ddl);
    facts.ddlCapture = ddl.capture;
    items.push(...(await incrementalChecks(src, tgt, input.incremental)), ddl.item);
    if (input.incremental?.wayBack) items.push(...(await wayBackChecks(tgt)));
  }
  const largeObjects = largeObjectsWanted(input);
  items.push(...(await largeObjectChecks(src, tgt, { wanted: largeObjects, createsInTarget: largeObjects && withSchema && targetExists, incremental: input.types.includes('incremental') })));
  if (selection) items.push(...selection.items);
  else if (withSchema) items.push(checks.conflictItem(facts.conflictingTables, input.conflicts));
  if (sourceWrites) items.push(await sourceWrites());
  return items;
}

/** Incremental migrations: the operations each table's changes replicate. */
function streamOperationsOf(input: PrecheckInput): ((t: { schema: string; name: string }) => readonly string[]) | undefined {
  const incremental = input.types.includes('incremental') ? input.incremental : undefined;
  if (!incremental) return undefined;
  return (t) => incremental.tables[displayName(t)]?.operations ?? incremental.operations;
}

async function pgDumpMajor(deps: ActivityDeps): Promise<number> {
  const { stdout } = await promisify(execFile)(join(deps.pgBinDir, 'pg_dump'), ['--version']);
  const m = /(\d+)(?:\.\d+)?/.exec(stdout);
  return m ? Number(m[1]) : 0;
}
