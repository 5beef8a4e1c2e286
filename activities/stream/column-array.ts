/**
 * How a column's values travel to the target in the apply statements (target-table.ts): one
 * array parameter per column, in binary array format. Integers go as int2[]/int4[]/int8[]
 * (binary-int-array.ts), dates and timestamps as date[]/timestamp[]/timestamptz[]
 * (binary-time-array.ts): the target reads them as they are, with no text to parse. Every other
 * type goes as text[] (binary-text-array.ts) and is cast to the column's type in SQL: no
 * precision is lost on the way, and no other type needs a binary form of its own here. The
 * source's and the target's column types are the same (relation-cache.ts checks), so the form
 * is read off the target's type.
 */
import type { BinaryArrayBuilder } from './binary-array';
import { binaryTextArray, TextArrayBuilder } from './binary-text-array';
import { IntArrayBuilder, type IntForm } from './binary-int-array';
import { TimeArrayBuilder, type TimeForm } from './binary-time-array';

export type WireForm = 'text' | IntForm | TimeForm;

/**
 * Target types (format_type's names, a precision such as timestamp(3) left out: the SQL cast
 * applies it, and the value already has it) bound in their own binary form.
 */
const BINARY_FORMS = new Map<string, IntForm | TimeForm>([
  ['smallint', 'int2'],
  ['integer', 'int4'],
  ['bigint', 'int8'],
  ['date', 'date'],
  ['timestamp without time zone', 'timestamp'],
  ['timestamp with time zone', 'timestamptz'],
]);
const PRECISION = /\(\d+\)/;

export function wireFormOf(column: { type: string }): WireForm {
  return BINARY_FORMS.get(column.type) ?? BINARY_FORMS.get(column.type.replace(PRECISION, '')) ?? 'text';
}

export function isIntForm(form: WireForm): form is IntForm {
  return form === 'int2' || form === 'int4' || form === 'int8';
}

/** The SQL type of the parameter that carries a column's values. */
export function arrayType(form: WireForm): string {
  return `${form}[]`;
}

/** A builder for `rows` values of a column of this form (RawRowChange.appendTo and byColumn fill it). */
export function columnArrayBuilder(form: WireForm, rows: number): BinaryArrayBuilder {
  if (form === 'text') return new TextArrayBuilder(rows * 8);
  return isIntForm(form) ? new IntArrayBuilder(form, rows) : new TimeArrayBuilder(form, rows);
}

/** The parameter for these values (text, as decoded or as keys hold them). */
export function columnArray(form: WireForm, values: ReadonlyArray<string | null>): Buffer {
  if (form === 'text') return binaryTextArray(values);
  const builder = columnArrayBuilder(form, values.length);
  for (let i = 0; i < values.length; i += 1) builder.add(values[i]);
  return builder.finish();
}
