/**
 * Creates the target database when the precheck found it missing and the target user may
 * create it: same encoding and locale as the source, owned by the target user. Idempotent: a
 * database that exists (a retry after a lost acknowledgement, or someone else was quicker) is
 * left as it is.
 */
import type { Client } from 'pg';
import type { ConnectionRef } from '../../common/connection';
import { closeQuietly, openClient } from '../db';
import { resolveBoth, type ActivityDeps, type RetryWindows } from '../deps';
import { guarded } from '../errors';
import { createDatabaseSql, readDatabaseLocale, serverVersionNum } from './database-locale';
import { databaseExists, openMaintenanceClient } from './maintenance';

export interface CreateTargetDatabaseInput {
  source: ConnectionRef;
  target: ConnectionRef;
  retry: RetryWindows;
}

const DUPLICATE_DATABASE = '42P04';

export function makeCreateTargetDatabase(deps: ActivityDeps) {
  return async function createTargetDatabase(input: CreateTargetDatabaseInput): Promise<{ created: boolean }> {
    const { source, target, secrets } = resolveBoth(deps, input);
    let admin: Client | undefined;
    let src: Client | undefined;
    try {
      return await guarded({ doing: `create the target database ${target.label}`, secrets, retry: input.retry }, async () => {
        admin = await openMaintenanceClient(target, 'create database');
        if (await databaseExists(admin, input.target.database)) return { created: false };
        src = await openClient(source, 'create database');
        const sql = createDatabaseSql(input.target.database, await readDatabaseLocale(src), await serverVersionNum(admin));
        try {
          await admin.query(sql);
        } catch (err) {
          if ((err as { code?: string }).code === DUPLICATE_DATABASE) return { created: false };
          throw err;
        }
        return { created: true };
      });
    } finally {
      await closeQuietly(src);
      await closeQuietly(admin);
    }
  };
}
