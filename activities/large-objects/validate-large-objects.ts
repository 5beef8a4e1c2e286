/**
 * Validation of the large objects: the target's against what the copy read from the source
 * under the snapshot (recorded with each object: its size and, with validation: checksum, its
 * checksum chain). Every object the source had must have been copied, and be in the target
 * with the source's size (and checksum). The target's own large objects, if it had any, are
 * not looked at.
 */
import { Context } from '@temporalio/activity';
import type { Client } from 'pg';
import type { LargeObjectMismatch, LargeObjectValidation } from '../../common/large-objects';
import { resolveConnection } from '../credentials';
import { closeQuietly, openClient } from '../db';
import type { ActivityDeps, Endpoints } from '../deps';
import { guarded } from '../errors';
import { SCAN_SETTINGS } from '../validate/validate-tables';
import { INV_READ } from './large-object-sql';
import { objectChecksum, serverObjectChecksum } from './object-checksum';
import { readDoneRecords, recordsTableExists } from './large-object-records';
import { MismatchList } from './mismatch-list';

export interface ValidateLargeObjectsInput extends Pick<Endpoints, 'target' | 'retry'> {
  mode: 'count' | 'checksum';
  migrationId: string;
  /** The snapshot the copy read under (its records are the expected values). */
  snapshot: string;
  /** Objects the source had under the snapshot (the copy batches' total). */
  expectedObjects: number;
}

const PAGE = 10_000;

export function makeValidateLargeObjects(deps: ActivityDeps) {
  return async function validateLargeObjects(input: ValidateLargeObjectsInput): Promise<LargeObjectValidation> {
    const target = resolveConnection(input.target, deps.env);
    let client: Client | undefined;
    const beat = setInterval(() => Context.current().heartbeat(), 1_000); // checksums of big objects take a while
    try {
      return await guarded({ doing: `validate large objects on target ${target.label}`, secrets: target.secrets, retry: input.retry }, async () => {
        client = await openClient(target, 'validate', SCAN_SETTINGS);
        return await validateLargeObjectsOn(client, input);
      });
    } finally {
      clearInterval(beat);
      await closeQuietly(client);
    }
  };
}

export async function validateLargeObjectsOn(client: Client, input: Omit<ValidateLargeObjectsInput, 'target' | 'retry'>): Promise<LargeObjectValidation> {
  const mismatches = new MismatchList();
  const note = (m: LargeObjectMismatch) => mismatches.note(m);
  let recorded = 0;
  let present = 0;
  let bytes = 0;
  if (await recordsTableExists(client)) {
    for (let after = -1; ; ) {
      const page = await readDoneRecords(client, input.migrationId, input.snapshot, after, PAGE);
      if (!page.length) break;
      after = page[page.length - 1].oid;
      recorded += page.length;
      const sizes = await targetSizes(client, page.map((r) => r.oid));
      for (const r of page) {
        bytes += r.size;
        const size = sizes.get(r.oid);
        if (size === undefined) {
          note({ oid: r.oid, problem: 'missing in the target' });
          continue;
        }
        present += 1;
        if (size !== r.size) note({ oid: r.oid, problem: `${size} bytes in the target, ${r.size} on the source` });
        else if (input.mode === 'checksum' && (await serverObjectChecksum(client, r.oid, size)) !== objectChecksum(r.size, r.chain)) note({ oid: r.oid, problem: 'contents differ (checksum)' });
      }
    }
  }
  if (recorded !== input.expectedObjects) note({ oid: 0, problem: `${recorded} of the source's ${input.expectedObjects} large objects were recorded as copied` });
  return { mode: input.mode, expectedObjects: input.expectedObjects, actualObjects: present, bytes, mismatches: mismatches.kept, ok: mismatches.ok };
}

/** Sizes of the given objects in the target (an object missing there has none). */
async function targetSizes(client: Client, oids: number[]): Promise<Map<number, number>> {
  const { rows } = await client.query<{ oid: string; size: string }>(
    `SELECT s.oid, pg_catalog.lo_lseek64(s.fd, 0, 2) AS size, pg_catalog.lo_close(s.fd) AS closed
       FROM (SELECT m.oid::int8 AS oid, pg_catalog.lo_open(m.oid, ${INV_READ}) AS fd
               FROM pg_catalog.pg_largeobject_metadata m WHERE m.oid = ANY($1::int8[]::oid[]) OFFSET 0) s`,
    [oids],
  );
  return new Map(rows.map((r) => [Number(r.oid), Number(r.size)]));
}
