/** pg_dump / pg_restore options shared by the pre-data and post-data steps. */

export interface SchemaOptions {
  /** Tables that already exist in the target (conflicts: ignore): their DDL is left alone. */
  excludeTables: Array<{ schema: string; name: string }>;
  /** False when the target lacks roles the source's objects belong to. */
  keepOwnership: boolean;
}

/** A psql pattern that matches exactly this name: inside double quotes nothing is a wildcard. */
function exactPattern(t: { schema: string; name: string }): string {
  const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
  return `${quote(t.schema)}.${quote(t.name)}`;
}

export function dumpFilterArgs(options: SchemaOptions): string[] {
  const args = options.excludeTables.map((t) => `--exclude-table=${exactPattern(t)}`);
  if (!options.keepOwnership) args.push('--no-owner', '--no-privileges');
  return args;
}
