/**
 * Large objects at cutover. Logical decoding carries no large-object changes, so once the
 * source has stopped taking writes the target's large objects are brought up to the source's:
 * objects created since the snapshot are copied, unlinked ones unlinked (only those this
 * migration copied: the target may have large objects of its own), every other one
 * compared by size and checksum (object-checksum.ts) and copied again when it differs; owners,
 * comments and grants follow. Then both sides are compared again (count and sizes, and
 * checksums with validation: checksum), which is the cutover's validation of large objects.
 * Running it twice does nothing the second time.
 */
import { Context } from '@temporalio/activity';
import type { Client } from 'pg';
import { MAX_OID, type LargeObjectMismatch, type LargeObjectSync, type LargeObjectValidation } from '../../common/large-objects';
import { closeQuietly, openClient } from '../db';
import { resolveBoth, type ActivityDeps, type Endpoints } from '../deps';
import { guarded } from '../errors';
import { SCAN_SETTINGS } from '../validate/validate-tables';
import { copyObject } from './copy-object';
import { allSizes } from './large-object-sql';
import { serverObjectChecksum } from './object-checksum';
import { metadataStatements, readMetadata } from './large-object-metadata';
import { recordsTableExists, RECORDS_TABLE } from './large-object-records';
import { MismatchList } from './mismatch-list';

export interface SyncLargeObjectsInput extends Endpoints {
  mode: 'count' | 'checksum';
  /** The target's roles match the source's (else owners and grants are left as they are, like pg_restore --no-owner --no-privileges). */
  keepOwnership: boolean;
  /** The migration, whose records in the target name the objects it copied (only those may be unlinked). */
  migrationId: string;
}

export interface SyncLargeObjectsResult {
  sync: LargeObjectSync;
  validation: LargeObjectValidation;
}


export function makeSyncLargeObjects(deps: ActivityDeps) {
  return async function syncLargeObjects(input: SyncLargeObjectsInput): Promise<SyncLargeObjectsResult> {
    const { source, target, secrets } = resolveBoth(deps, input);
    const ctx = Context.current();
    let src: Client | undefined;
    let tgt: Client | undefined;
    const live = { step: 'compare', oid: 0 };
    const beat = setInterval(() => ctx.heartbeat({ ...live }), 1_000);
    try {
      return await guarded({ doing: () => `bring large object ${live.oid || ''} of target ${target.label} up to the source`, secrets, retry: input.retry }, async () => {
        src = await openClient(source, 'large objects', SCAN_SETTINGS);
        tgt = await openClient(target, 'large objects', SCAN_SETTINGS);
        // The source stopped taking writes; one snapshot still makes its side of the comparison exact.
        await src.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const ours = await copiedObjects(tgt, input.migrationId);
        const { sync, sameContents } = await bringUpToDate(src, tgt, input, ours, live);
        live.step = 'validate';
        const validation = await compareLargeObjects(src, tgt, input.mode, ours, sameContents);
        await src.query('COMMIT');
        return { sync, validation };
      });
    } finally {
      clearInterval(beat);
      await closeQuietly(src);
      await closeQuietly(tgt);
    }
  };
}

/** Objects this migration copied into the target (the target may have large objects of its own). */
async function copiedObjects(tgt: Client, migrationId: string): Promise<Set<number>> {
  if (!(await recordsTableExists(tgt))) return new Set();
  const { rows } = await tgt.query<{ oid: string }>(`SELECT oid FROM ${RECORDS_TABLE} WHERE workflow_id = $1`, [migrationId]);
  return new Set(rows.map((r) => Number(r.oid)));
}

/** Returns what it did, and the objects whose checksums it found equal on both sides (not written since). */
async function bringUpToDate(
  src: Client,
  tgt: Client,
  input: SyncLargeObjectsInput,
  ours: Set<number>,
  live: { step: string; oid: number },
): Promise<{ sync: LargeObjectSync; sameContents: Set<number> }> {
  const started = Date.now();
  const sourceSizes = await allSizes(src);
  const targetSizes = await allSizes(tgt);
  const sync: LargeObjectSync = { objects: sourceSizes.size, bytes: 0, created: 0, rewritten: 0, dropped: 0, metadata: 0, bytesCopied: 0, ms: 0 };
  const sameContents = new Set<number>();
  for (const oid of targetSizes.keys()) {
    if (sourceSizes.has(oid) || !ours.has(oid)) continue;
    live.oid = oid;
    await tgt.query('SELECT pg_catalog.lo_unlink($1::int8::oid)', [oid]);
    sync.dropped += 1;
  }
  for (const [oid, size] of sourceSizes) {
    live.oid = oid;
    sync.bytes += size;
    const targetSize = targetSizes.get(oid);
    if (targetSize === size && (await serverObjectChecksum(src, oid, size)) === (await serverObjectChecksum(tgt, oid, size))) {
      sameContents.add(oid);
      continue;
    }
    // One object per target transaction: an interrupted cutover compares again and finds the rest.
    await tgt.query('BEGIN');
    await copyObject(src, tgt, { oid, size, from: 0, chain: '' }, { withMd5: false });
    await tgt.query('COMMIT');
    if (targetSize === undefined) sync.created += 1;
    else sync.rewritten += 1;
    sync.bytesCopied += size;
  }
  live.oid = 0;
  sync.metadata = await syncMetadata(src, tgt, input.keepOwnership);
  sync.ms = Date.now() - started;
  return { sync, sameContents };
}

/** Owners, comments and grants as the source has them; returns how many objects changed. */
async function syncMetadata(src: Client, tgt: Client, keepOwnership: boolean): Promise<number> {
  const onSource = await readMetadata(src, 0, MAX_OID);
  const onTarget = await readMetadata(tgt, 0, MAX_OID);
  let changed = 0;
  for (const [oid, source] of onSource) {
    const target = onTarget.get(oid);
    if (!target) continue;
    const statements = await metadataStatements(src, tgt, oid, source, target, keepOwnership);
    if (!statements.length) continue;
    await tgt.query(statements.join(';\n')); // one implicit transaction: its object's locks only
    changed += 1;
  }
  return changed;
}

/**
 * Live source against target: every object on both, of the same size (and checksum). Objects
 * in `sameContents` were compared by checksum a moment ago, in the same source snapshot, with
 * writes stopped: their checksums are not computed again during the downtime.
 */
export async function compareLargeObjects(src: Client, tgt: Client, mode: 'count' | 'checksum', ours: Set<number>, sameContents = new Set<number>()): Promise<LargeObjectValidation> {
  const sourceSizes = await allSizes(src);
  const targetSizes = await allSizes(tgt);
  const mismatches = new MismatchList();
  const note = (m: LargeObjectMismatch) => mismatches.note(m);
  let bytes = 0;
  for (const [oid, size] of sourceSizes) {
    bytes += size;
    const targetSize = targetSizes.get(oid);
    if (targetSize === undefined) note({ oid, problem: 'missing in the target' });
    else if (targetSize !== size) note({ oid, problem: `${targetSize} bytes in the target, ${size} on the source` });
    else if (mode === 'checksum' && !sameContents.has(oid) && (await serverObjectChecksum(src, oid, size)) !== (await serverObjectChecksum(tgt, oid, size))) note({ oid, problem: 'contents differ (checksum)' });
  }
  for (const oid of targetSizes.keys()) if (!sourceSizes.has(oid) && ours.has(oid)) note({ oid, problem: 'in the target, unlinked on the source' });
  const present = [...sourceSizes.keys()].filter((o) => targetSizes.has(o)).length;
  return { mode, expectedObjects: sourceSizes.size, actualObjects: present, bytes, mismatches: mismatches.kept, ok: mismatches.ok };
}
