/**
 * Splits a SQL script (pg_restore's plain output) into statements, incrementally, following
 * the lexical rules psql uses: a semicolon ends a statement unless it is inside a quoted
 * string, a quoted identifier, a dollar-quoted body, a comment, parentheses, or the
 * BEGIN ... END body of a SQL-standard CREATE FUNCTION / PROCEDURE.
 *
 * Why: psql sends a script one statement per round trip. A schema of thousands of tables is
 * tens of thousands of statements, and the round trips cost as much as the statements; split
 * here, they go to the server in batches (run-sql-script.ts).
 *
 * psql meta-commands at the start of a statement are not SQL: pg_dump's `\restrict` and
 * `\unrestrict` guard lines are dropped; any other one is refused.
 */

type Mode = 'code' | 'line-comment' | 'block-comment' | 'quote' | 'escape-quote' | 'ident-quote' | 'dollar-quote';

const IDENT_START = /[A-Za-z_\u0080-\uffff]/;
const IDENT_PART = /[A-Za-z0-9_$\u0080-\uffff]/;
const DOLLAR_TAG = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/;
/** What a dollar tag may look like while its closing `$` has not arrived yet. */
const DOLLAR_TAG_PREFIX = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?$/;
const GUARD_COMMAND = /^\\(?:un)?restrict(?:\s|$)/;

export class StatementSplitter {
  private buf = '';
  /** Next character to scan. */
  private pos = 0;
  /** Where the current statement starts. */
  private start = 0;
  private mode: Mode = 'code';
  private commentDepth = 0;
  private dollarTag = '';
  private parenDepth = 0;
  /** BEGIN ... END nesting inside CREATE FUNCTION / PROCEDURE (SQL-standard bodies). */
  private beginDepth = 0;
  /** The statement's leading keywords, enough to tell CREATE [OR REPLACE] FUNCTION|PROCEDURE. */
  private leadingWords: string[] = [];
  /** The statement has something besides white space and comments. */
  private meaningful = false;

  /** Adds script text; returns the statements it completed, each with its semicolon. */
  push(text: string): string[] {
    this.buf += text;
    return this.scan(false);
  }

  /** The end of the script: returns what is left (a last statement without a semicolon). */
  end(): string[] {
    const out = this.scan(true);
    if (this.mode !== 'code' && this.mode !== 'line-comment') throw new Error(`the SQL script ends inside ${describeMode(this.mode)}`);
    if (this.meaningful) out.push(this.buf.slice(this.start).trim());
    this.buf = '';
    this.pos = this.start = 0;
    return out;
  }

  private scan(final: boolean): string[] {
    const out: string[] = [];
    while (this.pos < this.buf.length) {
      const advanced = this.mode === 'code' ? this.scanCode(final, out) : this.scanInside(final);
      if (!advanced) break; // needs more text to decide
    }
    // Drop what is done, so memory holds one statement at most.
    this.buf = this.buf.slice(this.start);
    this.pos -= this.start;
    this.start = 0;
    return out;
  }

  /** One token of plain code. Returns false when the token may continue past the text so far. */
  private scanCode(final: boolean, out: string[]): boolean {
    const { buf, pos } = this;
    const c = buf[pos];
    const next = buf[pos + 1];
    const atEnd = pos + 1 >= buf.length;
    if (c === ' ' || c === '\n' || c === '\t' || c === '\r' || c === '\f') {
      this.pos += 1;
    } else if (c === '-' || c === '/') {
      if (atEnd && !final) return false;
      if (c === '-' && next === '-') this.enter('line-comment', 2);
      else if (c === '/' && next === '*') {
        this.commentDepth = 1;
        this.enter('block-comment', 2);
      } else this.code(1);
    } else if (c === "'") {
      const prefix = buf[pos - 1];
      const escapes = (prefix === 'e' || prefix === 'E') && !IDENT_PART.test(buf[pos - 2] ?? ' ');
      this.meaningful = true;
      this.enter(escapes ? 'escape-quote' : 'quote', 1);
    } else if (c === '"') {
      this.meaningful = true;
      this.enter('ident-quote', 1);
    } else if (c === '$') {
      const rest = buf.slice(pos, pos + 70); // a tag is at most 63 characters
      const tag = DOLLAR_TAG.exec(rest);
      if (tag) {
        this.dollarTag = tag[0];
        this.meaningful = true;
        this.enter('dollar-quote', tag[0].length);
      } else if (!final && pos + rest.length >= buf.length && DOLLAR_TAG_PREFIX.test(rest)) {
        return false; // `$abc` at the end of the text: maybe a tag whose `$` comes next
      } else this.code(1); // a parameter such as $1
    } else if (c === '(') {
      this.parenDepth += 1;
      this.code(1);
    } else if (c === ')') {
      this.parenDepth = Math.max(0, this.parenDepth - 1);
      this.code(1);
    } else if (c === ';') {
      this.pos += 1;
      if (this.parenDepth === 0 && this.beginDepth === 0) this.finishStatement(out);
      else this.meaningful = true;
    } else if (c === '\\' && !this.meaningful) {
      return this.metaCommand(final);
    } else if (IDENT_START.test(c)) {
      let end = pos + 1;
      while (end < buf.length && IDENT_PART.test(buf[end])) end += 1;
      if (end >= buf.length && !final) return false; // the word may go on
      this.word(buf.slice(pos, end).toLowerCase());
      this.code(end - pos);
    } else {
      this.code(1);
    }
    return true;
  }

  /** Inside a comment, a quoted string or identifier, or a dollar-quoted body. */
  private scanInside(final: boolean): boolean {
    const { buf, pos } = this;
    switch (this.mode) {
      case 'line-comment': {
        const nl = buf.indexOf('\n', pos);
        if (nl < 0) this.pos = buf.length;
        else this.enter('code', nl + 1 - pos);
        return true;
      }
      case 'block-comment': {
        const open = buf.indexOf('/*', pos);
        const close = buf.indexOf('*/', pos);
        if (open >= 0 && (close < 0 || open < close)) {
          this.commentDepth += 1; // comments nest
          this.pos = open + 2;
          return true;
        }
        if (close < 0) {
          if (final) {
            this.pos = buf.length;
            return true;
          }
          this.pos = Math.max(pos, buf.length - 1); // a lone `*` or `/` at the end may start a pair
          return this.pos > pos;
        }
        this.commentDepth -= 1;
        this.pos = close + 2;
        if (this.commentDepth === 0) this.mode = 'code';
        return true;
      }
      case 'quote':
      case 'ident-quote':
        return this.scanQuoted(this.mode === 'quote' ? "'" : '"', final);
      case 'escape-quote': {
        let i = pos;
        while (i < buf.length && buf[i] !== "'" && buf[i] !== '\\') i += 1;
        if (i >= buf.length) {
          this.pos = i;
          return true;
        }
        if (i + 1 >= buf.length && !final) {
          this.pos = i;
          return i > pos;
        }
        if (buf[i] === '\\') this.pos = i + 2; // the escaped character, whatever it is
        else if (buf[i + 1] === "'") this.pos = i + 2; // '' inside the string
        else this.enter('code', i + 1 - pos);
        return true;
      }
      case 'dollar-quote': {
        const close = buf.indexOf(this.dollarTag, pos);
        if (close < 0) {
          // keep the last characters: they may be the start of the closing tag
          const keep = Math.max(pos, buf.length - this.dollarTag.length + 1);
          const moved = keep > pos;
          this.pos = final ? buf.length : keep;
          return moved || final;
        }
        this.enter('code', close + this.dollarTag.length - pos);
        return true;
      }
      default:
        throw new Error(`unexpected lexer mode ${this.mode}`);
    }
  }

  /** A '...' string or a "..." identifier, where a doubled quote stands for itself. */
  private scanQuoted(quote: string, final: boolean): boolean {
    const { buf, pos } = this;
    const i = buf.indexOf(quote, pos);
    if (i < 0) {
      this.pos = buf.length;
      return true;
    }
    if (i + 1 >= buf.length && !final) {
      this.pos = i; // a doubled quote may follow
      return i > pos;
    }
    if (buf[i + 1] === quote) this.pos = i + 2;
    else this.enter('code', i + 1 - pos);
    return true;
  }

  /** A psql meta-command line where a statement would start. */
  private metaCommand(final: boolean): boolean {
    const nl = this.buf.indexOf('\n', this.pos);
    if (nl < 0 && !final) return false;
    const lineEnd = nl < 0 ? this.buf.length : nl;
    const line = this.buf.slice(this.pos, lineEnd).trim();
    if (!GUARD_COMMAND.test(line)) throw new Error(`the SQL script has a psql command that pgferry does not run: ${line.slice(0, 80)}`);
    this.pos = lineEnd + (nl < 0 ? 0 : 1);
    this.start = this.pos; // drop the line and the comments before it
    return true;
  }

  /** Tracks CREATE [OR REPLACE] FUNCTION|PROCEDURE ... BEGIN ... END, as psql does. */
  private word(w: string): void {
    if (this.leadingWords.length < 4) this.leadingWords.push(w);
    if (this.parenDepth > 0 || !this.isRoutineDefinition()) return;
    if (w === 'begin') this.beginDepth += 1;
    else if (w === 'case' && this.beginDepth > 0) this.beginDepth += 1; // CASE ... END inside the body
    else if (w === 'end' && this.beginDepth > 0) this.beginDepth -= 1;
  }

  private isRoutineDefinition(): boolean {
    const [a, b, c, d] = this.leadingWords;
    const routine = (w: string | undefined) => w === 'function' || w === 'procedure';
    return a === 'create' && (routine(b) || (b === 'or' && c === 'replace' && routine(d)));
  }

  private code(length: number): void {
    this.meaningful = true;
    this.pos += length;
  }

  private enter(mode: Mode, length: number): void {
    this.mode = mode;
    this.pos += length;
  }

  private finishStatement(out: string[]): void {
    if (this.meaningful) out.push(this.buf.slice(this.start, this.pos).trim());
    this.start = this.pos;
    this.meaningful = false;
    this.parenDepth = 0;
    this.beginDepth = 0;
    this.leadingWords = [];
  }
}

function describeMode(mode: Mode): string {
  switch (mode) {
    case 'block-comment':
      return 'a /* comment */';
    case 'quote':
    case 'escape-quote':
      return 'a quoted string';
    case 'ident-quote':
      return 'a quoted identifier';
    case 'dollar-quote':
      return 'a dollar-quoted body';
    default:
      return mode;
  }
}
