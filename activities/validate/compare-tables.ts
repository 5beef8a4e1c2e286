/**
 * Validation at cutover: the live source against the target, table by table (row counts, and
 * checksums when asked). At that moment writes have stopped and the target has applied every
 * change up to the cutover marker, so the two must be equal; a difference means either a lost
 * change or writes that went on after the cutover point, and the report names the tables.
 */
import type { Client } from 'pg';
import { displayName, type TableValidation } from '../../common/plan';
import { closeQuietly, openClient } from '../db';
import { resolveBoth, type ActivityDeps, type Endpoints } from '../deps';
import { guarded } from '../errors';
import { checksumSql } from './checksum';
import { countAll } from './validate-tables';

export interface CompareTablesInput extends Endpoints {
  mode: 'count' | 'checksum';
  tables: Array<{ schema: string; name: string }>;
}

export function makeCompareTables(deps: ActivityDeps) {
  return async function compareTables(input: CompareTablesInput): Promise<TableValidation[]> {
    const { source, target, secrets } = resolveBoth(deps, input);
    let current = input.tables[0];
    let src: Client | undefined;
    let tgt: Client | undefined;
    try {
      return await guarded(
        { doing: () => `compare ${current ? displayName(current) : 'tables'} between ${source.label} and ${target.label}`, secrets, retry: input.retry },
        async () => {
          src = await openClient(source, 'validate');
          tgt = await openClient(target, 'validate');
          if (input.mode === 'count') {
            const expected = await countAll(src, input.tables.map((t) => ({ ...t, rows: 0 })));
            return countAll(tgt, expected.map((e) => ({ schema: e.schema, name: e.name, rows: e.actualRows })));
          }
          const results: TableValidation[] = [];
          for (const table of input.tables) {
            current = table;
            const [a, b] = await Promise.all([src.query<{ checksum: string }>(checksumSql(table)), tgt.query<{ checksum: string }>(checksumSql(table))]);
            const expectedChecksum = a.rows[0].checksum;
            const actualChecksum = b.rows[0].checksum;
            results.push({
              schema: table.schema,
              name: table.name,
              expectedRows: Number(expectedChecksum.split(':')[0]),
              actualRows: Number(actualChecksum.split(':')[0]),
              expectedChecksum,
              actualChecksum,
              ok: expectedChecksum === actualChecksum,
            });
          }
          return results;
        },
      );
    } finally {
      await closeQuietly(src);
      await closeQuietly(tgt);
    }
  };
}
