/**
 * From a captured DDL command to the statement to run on the target. The event trigger knows
 * the command's tag and the client's whole query text (`current_query()`, which may hold
 * several statements): the statement is the n-th of that query with that tag. Then it is
 * rewritten for the target: renamed schemas and tables (objects.rename) take their target
 * names, CONCURRENTLY goes (the target statement runs inside the apply transaction), and a
 * CREATE TABLE AS creates the table empty (its rows are copied from the source).
 * Pure: unit-tested in test/unit/ddl-statement.test.ts.
 */
import { StatementSplitter } from '../schema/statement-splitter';
import { identName, isKeyword, significant, tokenize, untokenize, type Token } from './sql-tokens';

/** Words between CREATE and the object type that the command tag leaves out. */
const CREATE_MODIFIERS = new Set(['OR', 'REPLACE', 'TEMP', 'TEMPORARY', 'UNLOGGED', 'GLOBAL', 'LOCAL', 'UNIQUE', 'RECURSIVE', 'TRUSTED', 'PROCEDURAL', 'DEFAULT', 'CONSTRAINT']);

/** The statements of a query text, as psql would split them. */
export function splitStatements(query: string): string[] {
  const splitter = new StatementSplitter();
  return [...splitter.push(query), ...splitter.end()].map((s) => s.trim()).filter((s) => s.length > 0);
}

/** The leading keywords of a statement, upper-cased, with CREATE's modifiers left out. */
function leadingWords(tokens: Token[]): string[] {
  const words: string[] = [];
  for (const t of tokens) {
    if (t.kind !== 'word' || words.length >= 6) break;
    const w = t.text.toUpperCase();
    if (words.length >= 1 && words[0] === 'CREATE' && CREATE_MODIFIERS.has(w)) continue;
    words.push(w);
  }
  return words;
}

/** Whether a word occurs outside parentheses (CREATE TABLE ... AS, SELECT ... INTO). */
function hasTopLevelWord(tokens: Token[], word: string): boolean {
  let depth = 0;
  for (const t of tokens) {
    if (t.kind === 'op' && t.text === '(') depth += 1;
    else if (t.kind === 'op' && t.text === ')') depth -= 1;
    else if (depth === 0 && isKeyword(t, word)) return true;
  }
  return false;
}

/** Whether the statement is one that PostgreSQL reports with this command tag. */
export function hasTag(statement: string, tag: string): boolean {
  const tokens = significant(tokenize(statement));
  const words = leadingWords(tokens);
  if (tag === 'SELECT INTO') return words[0] === 'SELECT' && hasTopLevelWord(tokens, 'INTO');
  const ctas = words[0] === 'CREATE' && words[1] === 'TABLE' && hasTopLevelWord(tokens.slice(2), 'AS');
  if (tag === 'CREATE TABLE AS') return ctas;
  if (tag === 'CREATE TABLE' && ctas) return false;
  const tagWords = tag.toUpperCase().split(' ');
  return tagWords.every((w, i) => words[i] === w);
}

/** The statement of `query` that ran as the `ordinal`-th command with `tag` (undefined: none is). */
export function pickStatement(query: string, tag: string, ordinal: number): string | undefined {
  let statements: string[];
  try {
    statements = splitStatements(query);
  } catch {
    return undefined;
  }
  const candidates = statements.filter((s) => hasTag(s, tag));
  if (!candidates.length || ordinal < 1) return undefined;
  // The same query text run again in one transaction counts on: it is the same statement again.
  return candidates[(ordinal - 1) % candidates.length].replace(/;\s*$/, '');
}

export interface TargetNames {
  /** Target schema of a renamed source schema. */
  schema(schema: string): string | undefined;
  /** Target of a source table renamed by objects.rename (or moved by a schema rename). */
  table(schema: string, name: string): { schema: string; name: string } | undefined;
}

/** Keywords after which a lone name is a table's (CREATE INDEX ... ON t, REFERENCES t...). */
const TABLE_POSITION = new Set(['TABLE', 'ON', 'REFERENCES', 'FROM', 'JOIN', 'ONLY', 'INTO', 'TRUNCATE', 'EXISTS']);

const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** The search_path with renamed schemas under their target names. */
export function targetSearchPath(searchPath: string, names: TargetNames): string {
  return searchPath
    .split(',')
    .map((part) => {
      const p = part.trim();
      const name = p.startsWith('"') ? p.slice(1, -1).replace(/""/g, '"') : p;
      const to = names.schema(name);
      return to === undefined ? p : quoteIdent(to);
    })
    .join(', ');
}

function schemasOf(searchPath: string): string[] {
  return searchPath
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p && p !== '"$user"' && p !== '$user')
    .map((p) => (p.startsWith('"') ? p.slice(1, -1).replace(/""/g, '"') : p));
}

/**
 * The statement with renamed schemas and tables under their target names. Qualified names are
 * rewritten wherever they are; a lone name only where a table's name stands, found through the
 * source's search_path.
 */
export function rewriteNames(statement: string, searchPath: string, names: TargetNames): string {
  const tokens = tokenize(statement);
  const isName = (t: Token | undefined) => t !== undefined && (t.kind === 'word' || t.kind === 'ident');
  const isDot = (t: Token | undefined) => t !== undefined && t.kind === 'op' && t.text === '.';
  const schemas = schemasOf(searchPath);
  const sig = tokens.map((t, i) => ({ t, i })).filter(({ t }) => t.kind !== 'space' && t.kind !== 'comment');
  for (let k = 0; k < sig.length; k += 1) {
    if (!isName(sig[k].t) || isDot(sig[k - 1]?.t)) continue;
    // The chain of dotted names starting here.
    const chain = [k];
    while (isDot(sig[chain[chain.length - 1] + 1]?.t) && isName(sig[chain[chain.length - 1] + 2]?.t)) chain.push(chain[chain.length - 1] + 2);
    const parts = chain.map((j) => identName(sig[j].t)!);
    const before = sig[k - 1]?.t;
    const columnChain = isKeyword(before, 'COLUMN');
    const tableParts = columnChain ? parts.length - 1 : Math.min(parts.length, 2);
    if (tableParts === 2) {
      const target = names.table(parts[0], parts[1]);
      const schema = names.schema(parts[0]);
      if (target) {
        tokens[sig[chain[0]].i] = { kind: 'ident', text: quoteIdent(target.schema) };
        tokens[sig[chain[1]].i] = { kind: 'ident', text: quoteIdent(target.name) };
      } else if (schema !== undefined) {
        tokens[sig[chain[0]].i] = { kind: 'ident', text: quoteIdent(schema) };
      }
    } else if (tableParts === 1 && (columnChain || (before && TABLE_POSITION.has(before.text.toUpperCase()) && before.kind === 'word'))) {
      const schema = schemas.find((s) => names.table(s, parts[0]) !== undefined);
      const target = schema !== undefined ? names.table(schema, parts[0]) : undefined;
      if (target) tokens[sig[chain[0]].i] = { kind: 'ident', text: `${quoteIdent(target.schema)}.${quoteIdent(target.name)}` };
    }
    k = chain[chain.length - 1];
  }
  return untokenize(tokens);
}

/** CREATE INDEX / DROP INDEX / REINDEX CONCURRENTLY cannot run in a transaction: the target's runs plainly. */
export function withoutConcurrently(statement: string): string {
  const tokens = tokenize(statement);
  const sig = significant(tokens);
  const words = leadingWords(sig);
  if (!['INDEX', 'REINDEX'].includes(words[1] ?? '') && words[0] !== 'REINDEX') return statement;
  const at = tokens.findIndex((t) => isKeyword(t, 'CONCURRENTLY'));
  if (at < 0) return statement;
  tokens.splice(at, tokens[at + 1]?.kind === 'space' ? 2 : 1);
  return untokenize(tokens);
}

/** CREATE TABLE ... AS creates the table empty on the target: its rows are copied from the source. */
export function withNoData(statement: string): string {
  const trimmed = statement.replace(/;\s*$/, '').replace(/\s+WITH\s+(NO\s+)?DATA\s*$/i, '');
  return `${trimmed} WITH NO DATA`;
}

/** Words of the statement that name something (identifiers, lower-cased as PostgreSQL reads them). */
export function namesIn(statement: string): Set<string> {
  return new Set(
    significant(tokenize(statement))
      .map(identName)
      .filter((n): n is string => n !== undefined),
  );
}

/** ALTER TABLE ... RENAME TO name / SET SCHEMA schema: what the table becomes. */
export interface TableRename {
  kind: 'name' | 'schema';
  /** The new name or schema, as PostgreSQL reads it. */
  value: string;
  /** The statement with another new name or schema. */
  withValue(value: string): string;
}

/** The table rename or move the statement makes; undefined when it makes none. */
export function tableRename(statement: string): TableRename | undefined {
  const tokens = tokenize(statement);
  const sig = tokens.map((t, i) => ({ t, i })).filter(({ t }) => t.kind !== 'space' && t.kind !== 'comment');
  if (!isKeyword(sig[0]?.t, 'ALTER') || !isKeyword(sig[1]?.t, 'TABLE')) return undefined;
  for (let k = 2; k + 2 < sig.length; k += 1) {
    const kind = isKeyword(sig[k].t, 'RENAME') && isKeyword(sig[k + 1].t, 'TO') ? 'name' : isKeyword(sig[k].t, 'SET') && isKeyword(sig[k + 1].t, 'SCHEMA') ? 'schema' : undefined;
    const at = sig[k + 2];
    const value = identName(at.t);
    if (!kind || value === undefined) continue;
    return {
      kind,
      value,
      withValue: (v) => {
        const out = [...tokens];
        out[at.i] = { kind: 'ident', text: quoteIdent(v) };
        return untokenize(out);
      },
    };
  }
  return undefined;
}
