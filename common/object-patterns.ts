/**
 * Names and glob patterns of the spec's `objects` section, read the way psql reads its `\d`
 * patterns: parts separated by dots; unquoted parts are folded to lower case (as SQL folds
 * unquoted identifiers) and may hold the wildcards `*` and `?`; double-quoted parts are taken
 * literally, with `""` for a quote. So `sales.*`, `public.audit_*`, `"Sales"."Order Items"`
 * and `café.commandes` all work.
 *
 * Pure and free of Node built-ins: the spec validation and the workflow use it too.
 */

export interface NamePart {
  /** Exact text when the part has no wildcard. */
  exact?: string;
  /** Anchored regular expression source when it has one. */
  glob?: string;
}

export interface ObjectPattern {
  text: string;
  parts: NamePart[];
}

/** Splits `a."b.c".d` into its parts; throws with a readable message on bad syntax. */
function splitParts(text: string): NamePart[] {
  const parts: NamePart[] = [];
  let literal = '';
  let regex = '';
  let wild = false;
  let inQuotes = false;
  let empty = true;
  const finish = () => {
    if (empty) throw new Error(`empty name part in "${text}"`);
    parts.push(wild ? { glob: `^${regex}$` } : { exact: literal });
    literal = '';
    regex = '';
    wild = false;
    empty = true;
  };
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i];
    if (inQuotes) {
      if (ch === '"' && text[i + 1] === '"') {
        literal += '"';
        regex += '"';
        i += 1;
      } else if (ch === '"') {
        inQuotes = false;
      } else {
        literal += ch;
        regex += escapeRegex(ch);
      }
      empty = false;
      continue;
    }
    if (ch === '"') {
      inQuotes = true;
      empty = false;
    } else if (ch === '.') {
      finish();
    } else if (ch === '*' || ch === '?') {
      wild = true;
      regex += ch === '*' ? '.*' : '.';
      empty = false;
    } else {
      // SQL folds only ASCII letters in unquoted identifiers.
      const folded = ch >= 'A' && ch <= 'Z' ? ch.toLowerCase() : ch;
      literal += folded;
      regex += escapeRegex(folded);
      empty = false;
    }
  }
  if (inQuotes) throw new Error(`unterminated quote in "${text}"`);
  finish();
  return parts;
}

/** Text matched literally inside a regular expression. */
export function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

/** A pattern of 1 to `maxParts` parts (schema, schema.table, schema.table.column). */
export function parsePattern(text: string, maxParts = 3): ObjectPattern {
  const parts = splitParts(text.trim());
  if (parts.length > maxParts) {
    throw new Error(`"${text}" has ${parts.length} parts; expected at most ${maxParts} (${['schema', 'schema.table', 'schema.table.column'].slice(0, maxParts).join(', ')}); quote names that contain dots`);
  }
  return { text, parts };
}

/** An exact name of `count` parts (no wildcards), e.g. a `tables` key or a rename target. */
export function parseExactName(text: string, minParts: number, maxParts: number): string[] {
  const parts = splitParts(text.trim());
  if (parts.length < minParts || parts.length > maxParts) {
    const shape = minParts === maxParts ? `${minParts}` : `${minParts} or ${maxParts}`;
    throw new Error(`"${text}" must have ${shape} dot-separated part(s); quote names that contain dots`);
  }
  if (parts.some((p) => p.glob)) throw new Error(`"${text}" must be an exact name: wildcards are not allowed here (quote the name if it contains * or ?)`);
  return parts.map((p) => p.exact!);
}

export function partMatches(part: NamePart, name: string): boolean {
  return part.exact !== undefined ? part.exact === name : new RegExp(part.glob!, 'su').test(name);
}

/** Whether a pattern names this schema (a one-part pattern) — schema-level selection. */
export function matchesSchema(pattern: ObjectPattern, schema: string): boolean {
  return pattern.parts.length === 1 && partMatches(pattern.parts[0], schema);
}

/** Whether a pattern covers this table: a schema pattern covers all its tables. */
export function matchesTable(pattern: ObjectPattern, schema: string, table: string): boolean {
  if (!partMatches(pattern.parts[0], schema)) return false;
  if (pattern.parts.length === 1) return true;
  return pattern.parts.length === 2 && partMatches(pattern.parts[1], table);
}

/** Whether a three-part pattern names this column. */
export function matchesColumn(pattern: ObjectPattern, schema: string, table: string, column: string): boolean {
  return pattern.parts.length === 3 && partMatches(pattern.parts[0], schema) && partMatches(pattern.parts[1], table) && partMatches(pattern.parts[2], column);
}

/** Whether a two-part pattern covers a whole schema's tables (`sales.*`). */
export function coversWholeSchema(pattern: ObjectPattern): boolean {
  return pattern.parts.length === 1 || (pattern.parts.length === 2 && pattern.parts[1].glob === '^.*$');
}
