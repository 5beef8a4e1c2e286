/**
 * Source size against the target's free space. PostgreSQL does not report free disk space,
 * so it is read only where the worker can see the target's data directory: the setting is
 * readable (superuser or pg_read_all_settings), the path exists on the worker, and it is that
 * server's directory (its postmaster.pid names the same port and start time, or the server is
 * local). Otherwise the item passes and says it could not be read.
 */
import { readFileSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from 'pg';
import type { CheckItem } from '../../common/precheck';
import { formatBytes } from '../../common/format';
import { pass, warn } from './items';
import { isLocalHost } from './tls-checks';

/** Room for WAL and index builds on top of the data itself. */
export const SPACE_MARGIN = 1.2;

export type FreeSpace = { bytes: number } | { unknown: string };

export function spaceItem(sourceBytes: number, free: FreeSpace, withData: boolean): CheckItem {
  const size = formatBytes(sourceBytes);
  if (!withData) return pass('disk-space', `The source database takes ${size}; no rows are copied (types without full).`);
  if ('unknown' in free) {
    return pass('disk-space', `The source database takes ${size}; the target's free space could not be read: ${free.unknown}.`, `Make sure the target has room for about ${formatBytes(sourceBytes * SPACE_MARGIN)}.`);
  }
  const title = `The source database takes ${size}; the target's data directory has ${formatBytes(free.bytes)} free.`;
  return free.bytes >= sourceBytes * SPACE_MARGIN
    ? pass('disk-space', title)
    : warn('disk-space', title, `The copy may not fit (about ${formatBytes(sourceBytes * SPACE_MARGIN)} with WAL and index builds; less if the source is bloated): free space on the target first.`);
}

export async function checkDiskSpace(src: Client, tgt: Client, targetHost: string, withData: boolean): Promise<CheckItem> {
  const { rows } = await src.query<{ bytes: string }>('SELECT pg_catalog.pg_database_size(pg_catalog.current_database()) AS bytes');
  return spaceItem(Number(rows[0].bytes), await targetFreeSpace(tgt, targetHost), withData);
}

/** How far apart the two records of the target's start may be (see sameStart). */
const START_TIME_SLACK_SECONDS = 10;

async function targetFreeSpace(tgt: Client, targetHost: string): Promise<FreeSpace> {
  // pg_settings hides superuser-only settings instead of raising an error.
  const { rows } = await tgt.query<{ dir: string; port: string; started: string }>(
    `SELECT s.setting AS dir, current_setting('port') AS port, floor(extract(epoch FROM pg_catalog.pg_postmaster_start_time()))::text AS started
       FROM pg_catalog.pg_settings s WHERE s.name = 'data_directory'`,
  );
  if (!rows.length) return { unknown: 'the target user may not read data_directory (needs pg_read_all_settings)' };
  const { dir, port, started } = rows[0];
  let stats: ReturnType<typeof statfsSync>;
  try {
    stats = statfsSync(dir);
  } catch {
    return { unknown: `its data directory ${dir} is not visible to the worker` };
  }
  const owner = postmasterPid(dir);
  if (owner ? owner.port !== port || !sameStart(owner.started, started) : !isLocalHost(targetHost)) {
    return { unknown: `the directory ${dir} on the worker belongs to another server` };
  }
  return { bytes: stats.bavail * stats.bsize };
}

/**
 * postmaster.pid's start time is taken a moment before pg_postmaster_start_time() (both when
 * the postmaster starts): seen a second apart in CI, so they only need to be close.
 */
export function sameStart(pidFileSeconds: string, serverSeconds: string): boolean {
  return Math.abs(Number(pidFileSeconds) - Number(serverSeconds)) <= START_TIME_SLACK_SECONDS;
}

/** Port and start time (epoch seconds) from postmaster.pid, when the worker may read it. */
function postmasterPid(dir: string): { port: string; started: string } | undefined {
  try {
    const lines = readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n');
    return { started: lines[2].trim(), port: lines[3].trim() };
  } catch {
    return undefined;
  }
}
