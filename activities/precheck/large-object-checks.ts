/**
 * Precheck items about large objects: how many and how big (with the time their copy takes),
 * whether the source user may read them all, whether their oids are free in the target, and,
 * for incremental migrations, what happens to the changes that logical decoding cannot carry.
 */
import type { Client } from 'pg';
import type { CheckItem } from '../../common/precheck';
import { formatBytes } from '../../common/format';
import { LARGE_OBJECT_ESTIMATE_MB_PER_SECOND } from '../../common/large-objects';
import { fail, listSome, note, pass } from './items';
import { readSizes, UNREADABLE_SQL } from '../large-objects/large-object-sql';

export interface LargeObjectCheckOptions {
  /** objects.largeObjects and the types: whether large objects are migrated at all. */
  wanted: boolean;
  /** types include schema and the target database exists: pre-data creates them by their oids. */
  createsInTarget: boolean;
  incremental: boolean;
}

export async function largeObjectChecks(src: Client, tgt: Client, options: LargeObjectCheckOptions): Promise<CheckItem[]> {
  const { rows } = await src.query<{ n: string }>('SELECT count(*) AS n FROM pg_catalog.pg_largeobject_metadata');
  const count = Number(rows[0].n);
  if (count === 0) return [pass('large-objects', 'The source has no large objects.')];
  if (!options.wanted) return [pass('large-objects', `The source's ${count} large object(s) are left out (objects.largeObjects: false, or the types do not include full).`)];

  const { rows: unreadable } = await src.query<{ oid: string }>(UNREADABLE_SQL);
  if (unreadable.length) {
    return [
      fail(
        'large-objects',
        `The source user may not read ${unreadable.length} of the ${count} large objects: ${listSome(unreadable.map((r) => r.oid))}.`,
        'Migrate as their owner or a superuser, or grant SELECT on each (GRANT SELECT ON LARGE OBJECT <oid> TO <user>), or leave large objects out (objects.largeObjects: false).',
      ),
    ];
  }
  let bytes = 0;
  const oids: number[] = [];
  await readSizes(src, 0, 4294967295, (page) => {
    for (const o of page) {
      bytes += o.size;
      oids.push(o.oid);
    }
  });
  const items: CheckItem[] = [];
  const taken = options.createsInTarget ? await takenInTarget(tgt, oids) : [];
  const seconds = Math.ceil(bytes / (LARGE_OBJECT_ESTIMATE_MB_PER_SECOND * 1024 * 1024));
  items.push(
    taken.length
      ? fail(
          'large-objects',
          `${taken.length} of the source's large objects already exist in the target with the same oids: ${listSome(taken.map(String))}.`,
          'Large objects keep their oids (tables refer to them by oid). Unlink them in the target (SELECT lo_unlink(oid) ...), migrate into an empty database, or leave large objects out (objects.largeObjects: false).',
        )
      : pass('large-objects', `${count} large object(s), ${formatBytes(bytes)} in all: copied with their owners, comments and grants under the snapshot, beside the tables (about ${seconds} s at ${LARGE_OBJECT_ESTIMATE_MB_PER_SECOND} MB/s).`),
  );
  if (options.incremental) {
    // A note: cutover brings them over exactly; what it costs is downtime, stated here.
    items.push(
      note(
        'large-objects-stream',
        `${count} large object(s) (${formatBytes(bytes)}): logical decoding does not carry large-object changes.`,
        `pgferry copies them under the snapshot, and at cutover, once the source takes no more writes, compares every large object with the target (size and checksum) and brings the target up to date: objects created, changed or unlinked since, owners, comments and grants. That reads all ${formatBytes(bytes)} on both servers during the cutover's downtime (about ${seconds} s or more).`,
      ),
    );
  }
  return items;
}

/** Oids of the list that the target already uses for large objects. */
async function takenInTarget(tgt: Client, oids: number[]): Promise<number[]> {
  const { rows } = await tgt.query<{ oid: string }>('SELECT m.oid::int8 AS oid FROM pg_catalog.pg_largeobject_metadata m WHERE m.oid::int8 = ANY($1::int8[]) ORDER BY 1', [oids]);
  return rows.map((r) => Number(r.oid));
}
