/**
 * The precheck: every item pass / warning / fail, nothing written. Connection problems become
 * fail items (not activity errors), so a wrong password or an unreachable host is reported at
 * once with advice instead of being retried for hours.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Client } from 'pg';
import type { MigrationSpec } from '../../common/spec';
import type { CheckItem, PrecheckReport } from '../../common/plan';
import { resolveConnection, type ResolvedConnection } from '../credentials';
import { closeQuietly, openClient } from '../db';
import type { ActivityDeps } from '../deps';
import { classifyError, errorMessage, scrub } from '../errors';
import * as checks from './checks';
import { incrementalChecks } from './incremental-checks';
import { selectionChecks } from './selection-checks';
import { selectsEverything } from '../../common/selection';
import { displayName } from '../../common/plan';

export type PrecheckInput = Pick<MigrationSpec, 'source' | 'target' | 'conflicts' | 'types'> & Partial<Pick<MigrationSpec, 'incremental' | 'objects'>>;

export function makePrecheck(deps: ActivityDeps) {
  return async function precheck(input: PrecheckInput): Promise<PrecheckReport> {
    const items: CheckItem[] = [];
    const facts: PrecheckReport['facts'] = { keepOwnership: true, conflictingTables: [] };
    let src: Client | undefined;
    let tgt: Client | undefined;
    try {
      src = await connectItem(deps, 'source', input.source, items);
      tgt = await connectItem(deps, 'target', input.target, items);
      if (src && tgt) {
        items.push(...(await checks.checkVersions(src, tgt, await pgDumpMajor(deps))));
        items.push(await checks.checkEncoding(src, tgt));
        items.push(await checks.checkSourcePrivileges(src));
        items.push(await checks.checkTargetPrivileges(tgt));
        items.push(await checks.checkExtensions(src, tgt));
        items.push(await checks.checkCFunctions(src));
        items.push(await checks.checkKeys(src));
        items.push(await checks.checkLockCapacity(src, tgt));
        const roles = await checks.checkRoles(src, tgt);
        items.push(roles.item);
        facts.keepOwnership = roles.keepOwnership;
        if (input.types.includes('incremental')) items.push(...(await incrementalChecks(src, tgt, input.incremental)));
        if (input.objects && !selectsEverything(input.objects)) {
          const incremental = input.types.includes('incremental') ? input.incremental : undefined;
          const operationsOf = incremental && ((t: { schema: string; name: string }) => incremental.tables[displayName(t)]?.operations ?? incremental.operations);
          const selected = await selectionChecks(src, tgt, input.objects, input.conflicts, input.types.includes('schema'), operationsOf || undefined);
          items.push(...selected.items);
          facts.conflictingTables = selected.conflictingTables;
        } else if (input.types.includes('schema')) {
          facts.conflictingTables = await checks.findConflicts(src, tgt);
          items.push(checks.conflictItem(facts.conflictingTables, input.conflicts));
        }
      }
    } finally {
      await closeQuietly(src);
      await closeQuietly(tgt);
    }
    return { items, ok: !items.some((i) => i.status === 'fail'), facts };
  };
}

async function connectItem(deps: ActivityDeps, side: 'source' | 'target', ref: PrecheckInput['source'], items: CheckItem[]): Promise<Client | undefined> {
  let conn: ResolvedConnection | undefined;
  try {
    conn = resolveConnection(ref, deps.env);
    const client = await openClient(conn, 'precheck');
    items.push({ id: `${side}-connect`, status: 'pass', title: `Connected to the ${side} ${conn.label}.`, advice: 'Nothing to do.' });
    return client;
  } catch (err) {
    const label = conn?.label ?? `${ref.host}:${ref.port}/${ref.database}`;
    const message = scrub(errorMessage(err), conn?.secrets ?? []);
    items.push({ id: `${side}-connect`, status: 'fail', title: `Cannot connect to the ${side} ${label}: ${message}.`, advice: connectAdvice(classifyError(err), side) });
    return undefined;
  }
}

function connectAdvice(kind: ReturnType<typeof classifyError>, side: string): string {
  switch (kind) {
    case 'auth':
      return `Check the ${side} user and the password the worker finds (passwordEnv, passwordFile, PGPASSWORD or a pgpass file).`;
    case 'connection':
      return `Check the ${side} host and port, that the server is up and accepts TCP connections from the worker (listen_addresses, pg_hba.conf, firewalls).`;
    case 'config':
      return `Check that the ${side} database exists and that the user may connect to it (CONNECT privilege).`;
    default:
      return `Check the ${side} connection settings (sslmode and certificate paths included).`;
  }
}

async function pgDumpMajor(deps: ActivityDeps): Promise<number> {
  const { stdout } = await promisify(execFile)(join(deps.pgBinDir, 'pg_dump'), ['--version']);
  const m = /(\d+)(?:\.\d+)?/.exec(stdout);
  return m ? Number(m[1]) : 0;
}
