/**
 * The migration spec: what the user writes (YAML or JSON), validated with zod.
 *
 * Shared by the client (validation before anything starts) and the workflow (its input type),
 * so it must stay free of Node built-ins.
 */
import { wayBackRefusal } from './way-back';
import { z } from 'zod';
import { indexBuildSchema } from './index-build-spec';
import { copySchema } from './copy-spec';
import { SSL_MODES, type ConnectionRef } from './connection';
import { conflictMode, objectsSchema, objectsSection } from './objects-spec';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const connectionObject = z
  .object({
    host: z.string().min(1).default('localhost'),
    port: z.coerce.number().int().min(1).max(65535).default(5432),
    database: z.string().min(1, 'name the database'),
    user: z.string().min(1).optional(),
    sslmode: z.enum(SSL_MODES).optional(),
    sslrootcert: z.string().min(1).optional(),
    sslcert: z.string().min(1).optional(),
    sslkey: z.string().min(1).optional(),
    passwordEnv: z.string().regex(ENV_NAME, 'must be an environment variable name').optional(),
    passwordFile: z.string().min(1).optional(),
  })
  .strict();

const URL_PARAMS = new Set(['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'passwordEnv', 'passwordFile']);

/**
 * Turns `postgres://user@host:port/db?sslmode=require` into the object form. A password in the
 * URL is refused: the spec ends up in workflow history, where secrets must never go.
 */
function urlToFields(value: string, ctx: z.RefinementCtx): unknown {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: `not a connection URL: expected postgres://user@host:port/database` });
    return z.NEVER;
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    ctx.addIssue({ code: 'custom', message: `URL scheme must be postgres:// or postgresql://, got ${url.protocol}//` });
    return z.NEVER;
  }
  if (url.password) {
    ctx.addIssue({
      code: 'custom',
      message:
        'a password in the URL would be stored in workflow history; remove it and give it to the worker instead (PGPASSWORD, a pgpass file, passwordEnv or passwordFile)',
    });
    return z.NEVER;
  }
  const fields: Record<string, unknown> = {
    host: decodeURIComponent(url.hostname.replace(/^\[|\]$/g, '')) || 'localhost',
    database: decodeURIComponent(url.pathname.replace(/^\//, '')),
  };
  if (url.port) fields.port = url.port;
  if (url.username) fields.user = decodeURIComponent(url.username);
  for (const [key, val] of url.searchParams) {
    if (!URL_PARAMS.has(key)) {
      ctx.addIssue({ code: 'custom', message: `unsupported URL parameter "${key}" (supported: ${[...URL_PARAMS].join(', ')})` });
      return z.NEVER;
    }
    fields[key] = val;
  }
  return fields;
}

/**
 * What a field read through `z.preprocess` also accepts in place of its object form (a URL, a
 * database name). zod cannot see through a preprocess, so the spec's JSON Schema
 * (spec-json-schema.ts) takes it from here.
 */
export const shorthands = new WeakMap<object, z.ZodType>();

export const connectionSchema = z.preprocess(
  (value, ctx) => (typeof value === 'string' ? urlToFields(value, ctx) : value),
  connectionObject,
);
shorthands.set(connectionSchema, z.string().regex(/^postgres(ql)?:\/\//).describe('postgres://user@host:port/database?sslmode=... (no password)'));

const databaseName = z.string().min(1).refine((name) => new TextEncoder().encode(name).length <= 63, 'PostgreSQL names are at most 63 bytes');

/** `sales` or `{ source: sales, target: sales_2024, objects: {...} }`. */
const databaseEntry = z.preprocess(
  (value) => (typeof value === 'string' ? { source: value } : value),
  z
    .object({
      source: databaseName,
      target: databaseName.optional(),
      /** Replaces the spec's objects section for this database. */
      objects: z.lazy(() => objectsSection).optional(),
    })
    .strict(),
);
shorthands.set(databaseEntry, databaseName);

export const MIGRATION_TYPES = ['schema', 'full', 'incremental'] as const;
export type MigrationType = (typeof MIGRATION_TYPES)[number];

/** Row operations the change stream can replicate. */
export const OPERATIONS = ['insert', 'update', 'delete', 'truncate'] as const;
export type Operation = (typeof OPERATIONS)[number];

const operationList = z.array(z.enum(OPERATIONS)).min(1, 'list at least one operation (insert, update, delete, truncate)');

/**
 * Change data capture settings (types include `incremental`). `tables` overrides the
 * operations per table, keyed by its name as `schema.table` (quote odd names: `"Sales"."Order"`).
 */
const incrementalSchema = z
  .object({
    operations: operationList.default([...OPERATIONS]),
    tables: z.record(z.string().min(1), z.object({ operations: operationList }).strict()).default({}),
    /** Advanced: history events after which the stream's workflow continues as new (bounded history). */
    historyBudget: z.number().int().min(50).max(40_000).default(8_000),
    /**
     * DDL on the source during the stream: `replicate` applies it to the target in commit
     * order with the row changes; `fail` stops the stream at the first changed table. Absent:
     * replicate when the source allows it (the precheck says), otherwise fail.
     */
    ddl: z.enum(['replicate', 'fail']).optional(),
    /**
     * Online verification while streaming: a round every `every` minutes (source and target
     * compared at one position, in key-range chunks), `repair` copying again the chunks that
     * differ twice. Absent: only when asked (`pgferry verify`).
     */
    verify: z
      .object({
        every: z.number().positive().max(10_080),
        repair: z.boolean().default(false),
        chunkRows: z.number().int().min(1_000).max(10_000_000).default(100_000),
      })
      .strict()
      .optional(),
    /**
     * A way back after cutover: the cutover also prepares a reverse stream (target → source,
     * a publication and a slot on the target), and the migration stays open in phase
     * `fallback-ready` until `pgferry rollback` or `pgferry finish`. Needs wal_level = logical
     * and replication privileges on the target (the precheck says). Off when absent: it keeps
     * a slot on the target, holding its WAL, until one of the two.
     */
    wayBack: z.boolean().optional(),
  })
  .strict()
  .prefault({});

/** When a scheduled migration starts: ISO 8601 with an offset, so it means one instant wherever it is read. */
export const startAtSchema = z.iso.datetime({
  offset: true,
  error: 'must be an ISO 8601 date-time with a UTC offset, e.g. 2026-03-01T02:00:00+01:00 or 2026-03-01T01:00:00Z',
});

/** Positive numbers; absent = unlimited. For the whole migration, shared by its parallel activities. */
const rateLimitSchema = z
  .object({
    rowsPerSecond: z.number().positive().optional(),
    mbPerSecond: z.number().positive().optional(),
  })
  .strict()
  .prefault({});

export const specSchema = z
  .object({
    source: connectionSchema,
    target: connectionSchema,
    types: z
      .array(z.enum(MIGRATION_TYPES))
      .min(1, 'list at least one migration type')
      .default(['schema', 'full']),
    parallelism: z
      .object({
        tables: z.number().int().min(1).max(64).default(4),
        /** Databases migrating at once (several databases): each counts until it streams or ends. */
        databases: z.number().int().min(1).max(32).default(2),
      })
      .strict()
      .prefault({}),
    /**
     * Several databases in one migration: each entry is a database of the source server and
     * its name on the target server (default: the same). The connections' own database names
     * are then only defaults for tools; every entry runs as a child migration.
     */
    databases: z.array(databaseEntry).min(1, 'list at least one database').optional(),
    conflicts: conflictMode.default('error'),
    validation: z.enum(['count', 'checksum']).default('count'),
    retry: z
      .object({
        connectionMinutes: z.number().positive().default(720),
        otherMinutes: z.number().positive().default(10),
      })
      .strict()
      .prefault({}),
    incremental: incrementalSchema,
    objects: objectsSchema,
    /** Warnings acknowledged by item id: any other warning stops the migration before it writes. */
    precheck: z
      .object({ ignore: z.array(z.string().regex(/^[a-z0-9-]+$/, 'a precheck item id, such as tables-without-key')).default([]) })
      .strict()
      .prefault({}),
    startAt: startAtSchema.optional(),
    throttle: z.object({ full: rateLimitSchema, incremental: rateLimitSchema }).strict().prefault({}),
    indexBuild: indexBuildSchema,
    copy: copySchema,
  })
  .strict()
  .superRefine((spec, ctx) => {
    const targets = new Set<string>();
    spec.databases?.forEach((d, i) => {
      const target = d.target ?? d.source;
      if (targets.has(target)) ctx.addIssue({ code: 'custom', path: ['databases', i], message: `two databases would both be migrated into target database "${target}"` });
      targets.add(target);
    });
    if (spec.types.includes('incremental') && !spec.types.includes('full')) {
      ctx.addIssue({ code: 'custom', path: ['types'], message: 'incremental needs full: the change stream starts where the full copy ends (use [schema, full, incremental])' });
    }
    if (spec.incremental.wayBack) {
      const refusal = spec.types.includes('incremental') ? wayBackRefusal(spec) : 'a way back needs the change stream (types: [schema, full, incremental])';
      if (refusal) ctx.addIssue({ code: 'custom', path: ['incremental', 'wayBack'], message: refusal });
    }
  });

export type MigrationSpec = z.output<typeof specSchema>;
export type SpecInput = z.input<typeof specSchema>;

// The parsed connection type must stay assignable to the shared ConnectionRef.
const _connectionTypeCheck: ConnectionRef = {} as MigrationSpec['source'];
void _connectionTypeCheck;

export type SpecResult = { ok: true; spec: MigrationSpec } | { ok: false; problems: string[] };

/** Validates a parsed document; one readable line per problem, each naming its field. */
export function validateSpec(document: unknown): SpecResult {
  const result = specSchema.safeParse(document);
  if (result.success) return { ok: true, spec: result.data };
  return { ok: false, problems: result.error.issues.map(formatIssue) };
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const field = issue.path.length ? issue.path.map(String).join('.') : '(spec)';
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.join(', ');
    const hint = issue.keys.includes('password')
      ? ' (passwords never go in the spec: use PGPASSWORD, a pgpass file, passwordEnv or passwordFile)'
      : '';
    return `${field}: unknown field${issue.keys.length > 1 ? 's' : ''} ${keys}${hint}`;
  }
  return `${field}: ${issue.message}`;
}
