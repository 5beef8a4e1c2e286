/**
 * The spec's `objects` section: which schemas, tables and columns to migrate, under which
 * names, and which rows. Patterns and names follow common/object-patterns.ts.
 *
 *   objects:
 *     include: [sales, public.customers]        # default: everything
 *     exclude: [public.audit_*, sales.orders.internal_note]
 *     rename: { sales: shop, public.customers: clients }
 *     tables:
 *       public.orders:
 *         where: "created_at >= '2024-01-01'"
 *         columns: [id, customer_id, total]     # keep only these; or a map { old: new } to rename
 *         excludeColumns: [note]
 *         rename: orders_2024                   # or other_schema.orders_2024
 *         conflicts: ignore
 *     largeObjects: false                       # default true: every large object
 */
import { z } from 'zod';
import { parseExactName, parsePattern } from './object-patterns';

export const conflictMode = z.enum(['error', 'ignore']);

/** A zod string that must parse with `parse` (its error message becomes the issue). */
function parsed(parse: (text: string) => unknown) {
  return z.string().min(1).superRefine((text, ctx) => {
    try {
      parse(text);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });
}

/** Checks a record's keys as exact names (zod reports a bad key only as "Invalid key"). */
function keysParse(minParts: number, maxParts: number) {
  return (record: Record<string, unknown>, ctx: z.RefinementCtx) => {
    for (const key of Object.keys(record)) {
      try {
        parseExactName(key, minParts, maxParts);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: [key], message: (err as Error).message });
      }
    }
  };
}

function nameParts(text: string): number {
  try {
    return parseExactName(text, 1, 2).length;
  } catch {
    return 0;
  }
}

const identifier = z.string().min(1).max(63, 'PostgreSQL names are at most 63 bytes');

const tableOptions = z
  .object({
    /** A list keeps only these columns; a map renames columns (old: new) and keeps the rest. */
    columns: z.union([z.array(identifier).min(1, 'list at least one column'), z.record(identifier, identifier)]).optional(),
    excludeColumns: z.array(identifier).min(1).optional(),
    /** New name: `table` (same schema) or `schema.table`. */
    rename: parsed((t) => parseExactName(t, 1, 2)).optional(),
    /** An SQL condition on the source table's columns: only matching rows are migrated. */
    where: z.string().trim().min(1).optional(),
    conflicts: conflictMode.optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (Array.isArray(t.columns) && t.excludeColumns) {
      ctx.addIssue({ code: 'custom', path: ['excludeColumns'], message: 'give either a column list (columns: [...]) or excludeColumns, not both' });
    }
  });

/** The objects section as written (a database entry's own replaces the spec's only when given). */
export const objectsSection = z
  .object({
    /** Schemas (`sales`) or tables (`sales.orders`, `public.audit_*`); default: everything. */
    include: z.array(parsed((t) => parsePattern(t, 2))).min(1, 'list at least one pattern, or leave include out to migrate everything').optional(),
    /** Schemas, tables or columns (`schema.table.column`) to leave out. */
    exclude: z.array(parsed((t) => parsePattern(t, 3))).default([]),
    /** `schema: new_schema` and `schema.table: new_table` (or `new_schema.new_table`). */
    rename: z
      .record(z.string().min(1), parsed((t) => parseExactName(t, 1, 2)))
      .superRefine(keysParse(1, 2))
      .superRefine((renames, ctx) => {
        for (const [from, to] of Object.entries(renames)) {
          if (nameParts(from) === 1 && nameParts(to) !== 1) {
            ctx.addIssue({ code: 'custom', path: [from], message: 'a schema is renamed to a schema name (one part)' });
          }
        }
      })
      .default({}),
    /** Per-table options, keyed by exact `schema.table` names. */
    tables: z.record(z.string().min(1), tableOptions).superRefine(keysParse(2, 2)).default({}),
    /**
     * Large objects belong to the database, not to a schema: include/exclude do not reach them.
     * True (the default) migrates every one (metadata with `schema`, contents with `full`).
     */
    largeObjects: z.boolean().default(true),
  })
  .strict();

/** The spec's objects section: absent, everything. */
export const objectsSchema = objectsSection.prefault({});

export type ObjectsSpec = z.output<typeof objectsSchema>;
export type TableOptions = z.output<typeof tableOptions>;
