/**
 * A small SQL lexer, enough to read and rewrite one DDL statement: words, quoted identifiers,
 * strings (standard, E'', dollar-quoted), numbers, comments, operators. Rewriting replaces
 * tokens and joins the text back, so everything else stays byte for byte.
 */

export type TokenKind = 'word' | 'ident' | 'string' | 'number' | 'comment' | 'space' | 'op';

export interface Token {
  kind: TokenKind;
  text: string;
}

const WORD = /^[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/;
const NUMBER = /^[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?/;
const SPACE = /^\s+/;
const DOLLAR = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/;

export function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const push = (kind: TokenKind, end: number) => {
    out.push({ kind, text: sql.slice(i, end) });
    i = end;
  };
  while (i < sql.length) {
    const rest = sql.slice(i);
    const c = sql[i];
    let m: RegExpExecArray | null;
    if ((m = SPACE.exec(rest))) push('space', i + m[0].length);
    else if (rest.startsWith('--')) push('comment', sql.indexOf('\n', i) < 0 ? sql.length : sql.indexOf('\n', i));
    else if (rest.startsWith('/*')) push('comment', blockCommentEnd(sql, i));
    else if (c === '"') push('ident', quotedEnd(sql, i, '"'));
    else if (c === "'") push('string', quotedEnd(sql, i, "'"));
    else if ((c === 'E' || c === 'e') && sql[i + 1] === "'") push('string', escapedEnd(sql, i + 1));
    else if ((m = DOLLAR.exec(rest))) {
      const close = sql.indexOf(m[0], i + m[0].length);
      push('string', close < 0 ? sql.length : close + m[0].length);
    } else if ((m = WORD.exec(rest))) push('word', i + m[0].length);
    else if ((m = NUMBER.exec(rest))) push('number', i + m[0].length);
    else push('op', i + 1);
  }
  return out;
}

function quotedEnd(sql: string, start: number, q: string): number {
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] === q) {
      if (sql[i + 1] === q) i += 2;
      else return i + 1;
    } else i += 1;
  }
  return sql.length;
}

function escapedEnd(sql: string, start: number): number {
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] === '\\') i += 2;
    else if (sql[i] === "'") {
      if (sql[i + 1] === "'") i += 2;
      else return i + 1;
    } else i += 1;
  }
  return sql.length;
}

function blockCommentEnd(sql: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < sql.length) {
    if (sql.startsWith('/*', i)) {
      depth += 1;
      i += 2;
    } else if (sql.startsWith('*/', i)) {
      depth -= 1;
      i += 2;
      if (depth === 0) return i;
    } else i += 1;
  }
  return sql.length;
}

/** Tokens that mean something (no spaces or comments). */
export function significant(tokens: Token[]): Token[] {
  return tokens.filter((t) => t.kind !== 'space' && t.kind !== 'comment');
}

/** A word or quoted identifier as PostgreSQL reads the name (unquoted: lower-cased). */
export function identName(t: Token): string | undefined {
  if (t.kind === 'word') return t.text.toLowerCase();
  if (t.kind === 'ident') return t.text.slice(1, -1).replace(/""/g, '"');
  return undefined;
}

export function isKeyword(t: Token | undefined, ...words: string[]): boolean {
  return t !== undefined && t.kind === 'word' && words.includes(t.text.toUpperCase());
}

export function untokenize(tokens: Token[]): string {
  return tokens.map((t) => t.text).join('');
}
