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
import { quoteIdent } from '../db';
import { checksumSql } from './checksum';
import { printLikeSource } from './text-forms';
import { countAll, SCAN_SETTINGS } from './validate-tables';

export interface CompareTablesInput extends Endpoints {
  mode: 'count' | 'checksum';
  /** Source names; `target` when renamed, `columns` and `where` when only part of the table migrates. */
  tables: Array<{ schema: string; name: string; target?: { schema: string; name: string }; columns?: string[]; where?: string }>;
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
          src = await openClient(source, 'validate', SCAN_SETTINGS);
          tgt = await openClient(target, 'validate', SCAN_SETTINGS);
          await printLikeSource(src, tgt);
          if (input.mode === 'count') {
            const expected = await countAll(src, input.tables.map((t) => ({ schema: t.schema, name: t.name, where: t.where, rows: 0 })));
            const actual = await countAll(tgt, input.tables.map((t, i) => ({ ...(t.target ?? t), rows: expected[i].actualRows })));
            return actual.map((r, i) => ({ ...r, schema: input.tables[i].schema, name: input.tables[i].name }));
          }
          const results: TableValidation[] = [];
          for (const table of input.tables) {
            current = table;
            const scope = { columns: table.columns?.map(quoteIdent).join(', '), where: table.where };
            const [a, b] = await Promise.all([src.query<{ checksum: string }>(checksumSql(table, scope)), tgt.query<{ checksum: string }>(checksumSql(table.target ?? table))]);
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
