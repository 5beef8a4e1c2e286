import { describe, expect, it } from 'vitest';
import { StatementSplitter } from '../../activities/schema/statement-splitter';

function split(script: string, chunkSize = script.length || 1): string[] {
  const splitter = new StatementSplitter();
  const out: string[] = [];
  for (let i = 0; i < script.length; i += chunkSize) out.push(...splitter.push(script.slice(i, i + chunkSize)));
  out.push(...splitter.end());
  return out;
}

/** A script with every construct that can hide a semicolon, as pg_dump writes them. */
const TRICKY = `--
-- PostgreSQL database dump
--

\\restrict AbC123xyz

SET statement_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);
COMMENT ON TABLE public.t IS 'it''s; fine';
COMMENT ON COLUMN public.t.v IS E'a \\' quote; and a \\\\';
CREATE TABLE public."odd;name" ("a""b;" integer, c text DEFAULT ';');
/* a /* nested; */ comment; */ CREATE VIEW public.v AS SELECT 1 AS "x;";
CREATE FUNCTION public.f() RETURNS trigger
    LANGUAGE plpgsql
    AS $_$ BEGIN RAISE NOTICE 'x;'; RETURN $1; END $_$;
CREATE FUNCTION public.g(a integer) RETURNS integer
    LANGUAGE sql
    AS $$ SELECT a; $$;
CREATE FUNCTION public.h(a integer) RETURNS integer
    LANGUAGE sql
    BEGIN ATOMIC
 SELECT CASE WHEN (a > 0) THEN 1 ELSE 2 END AS "case";
 SELECT 3;
END;
CREATE OR REPLACE PROCEDURE public.p() LANGUAGE sql BEGIN ATOMIC INSERT INTO public.t VALUES (1); END;
CREATE RULE r AS ON INSERT TO public.t DO INSTEAD (INSERT INTO public.a VALUES (new.x); INSERT INTO public.b VALUES (new.x));
SELECT $1, U&'d\\0061t;a', 'end'   -- trailing; comment
;
CREATE TABLE é_ñ (ü$x int);

\\unrestrict AbC123xyz
SELECT 'no semicolon at the end'`;

describe('StatementSplitter', () => {
  const statements = split(TRICKY);

  it('splits where psql would, whatever hides a semicolon', () => {
    expect(statements).toEqual([
      'SET statement_timeout = 0;',
      "SELECT pg_catalog.set_config('search_path', '', false);",
      "COMMENT ON TABLE public.t IS 'it''s; fine';",
      "COMMENT ON COLUMN public.t.v IS E'a \\' quote; and a \\\\';",
      `CREATE TABLE public."odd;name" ("a""b;" integer, c text DEFAULT ';');`,
      '/* a /* nested; */ comment; */ CREATE VIEW public.v AS SELECT 1 AS "x;";',
      "CREATE FUNCTION public.f() RETURNS trigger\n    LANGUAGE plpgsql\n    AS $_$ BEGIN RAISE NOTICE 'x;'; RETURN $1; END $_$;",
      'CREATE FUNCTION public.g(a integer) RETURNS integer\n    LANGUAGE sql\n    AS $$ SELECT a; $$;',
      'CREATE FUNCTION public.h(a integer) RETURNS integer\n    LANGUAGE sql\n    BEGIN ATOMIC\n SELECT CASE WHEN (a > 0) THEN 1 ELSE 2 END AS "case";\n SELECT 3;\nEND;',
      'CREATE OR REPLACE PROCEDURE public.p() LANGUAGE sql BEGIN ATOMIC INSERT INTO public.t VALUES (1); END;',
      'CREATE RULE r AS ON INSERT TO public.t DO INSTEAD (INSERT INTO public.a VALUES (new.x); INSERT INTO public.b VALUES (new.x));',
      "SELECT $1, U&'d\\0061t;a', 'end'   -- trailing; comment\n;",
      'CREATE TABLE é_ñ (ü$x int);',
      "SELECT 'no semicolon at the end'",
    ]);
  });

  it('gives the same statements however the text is cut into chunks', () => {
    for (const size of [1, 2, 3, 5, 7, 13, 64]) expect(split(TRICKY, size), `chunks of ${size}`).toEqual(statements);
    // and cut at every single position
    for (let cut = 1; cut < TRICKY.length; cut += 1) {
      const splitter = new StatementSplitter();
      const got = [...splitter.push(TRICKY.slice(0, cut)), ...splitter.push(TRICKY.slice(cut)), ...splitter.end()];
      expect(got, `cut at ${cut}`).toEqual(statements);
    }
  });

  it('keeps no more than the statement in progress', () => {
    const splitter = new StatementSplitter();
    const big = 'INSERT INTO t VALUES (1);\n'.repeat(10_000);
    expect(splitter.push(big)).toHaveLength(10_000);
    expect((splitter as unknown as { buf: string }).buf).toBe('\n');
  });

  it('does not take a $ in a name or a parameter for a dollar quote', () => {
    expect(split('SELECT a$b$c FROM t; SELECT $1 + $2; SELECT $x$;$x$;')).toEqual(['SELECT a$b$c FROM t;', 'SELECT $1 + $2;', 'SELECT $x$;$x$;']);
  });

  it('refuses psql commands other than the dump guard', () => {
    expect(() => split('SELECT 1;\n\\connect other\nSELECT 2;')).toThrow(/psql command that pgferry does not run: \\connect other/);
  });

  it('says when the script ends inside a string, an identifier, a body or a comment', () => {
    expect(() => split("SELECT 'open;")).toThrow(/ends inside a quoted string/);
    expect(() => split('SELECT "open;')).toThrow(/ends inside a quoted identifier/);
    expect(() => split('SELECT $$ open;')).toThrow(/ends inside a dollar-quoted body/);
    expect(() => split('SELECT 1; /* open')).toThrow(/ends inside a \/\* comment \*\//);
  });

  it('ignores white space and comments between statements', () => {
    expect(split('\n-- only a comment\n;\n  ;  /* x */ ')).toEqual([]);
  });
});
