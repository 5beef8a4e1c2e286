/**
 * How a column's values travel to the target in the apply statements (target-table.ts): one
 * array parameter per column, in binary array format. Integers go as int2[]/int4[]/int8[]
 * (binary-int-array.ts): the target reads them as they are. Every other type goes as text[]
 * (binary-text-array.ts) and is cast to the column's type in SQL: no precision is lost on the
 * way, and no type needs a binary form of its own here. The source's and the target's column
 * types are the same (relation-cache.ts checks), so the form is read off the target's type.
 */
import type { BinaryArrayBuilder } from './binary-array';
import { binaryTextArray, TextArrayBuilder } from './binary-text-array';
import { IntArrayBuilder, type IntForm } from './binary-int-array';

export type WireForm = 'text' | IntForm;

/** Target types (format_type's names) bound in their own binary form. */
const INT_FORMS = new Map<string, IntForm>([
  ['smallint', 'int2'],
  ['integer', 'int4'],
  ['bigint', 'int8'],
]);

export function wireFormOf(column: { type: string }): WireForm {
  return INT_FORMS.get(column.type) ?? 'text';
}

/** The SQL type of the parameter that carries a column's values. */
export function arrayType(form: WireForm): string {
  return `${form}[]`;
}

/** A builder for `rows` values of a column of this form (RawRowChange.appendTo and byColumn fill it). */
export function columnArrayBuilder(form: WireForm, rows: number): BinaryArrayBuilder {
  return form === 'text' ? new TextArrayBuilder(rows * 8) : new IntArrayBuilder(form, rows);
}

/** The parameter for these values (text, as decoded or as keys hold them). */
export function columnArray(form: WireForm, values: ReadonlyArray<string | null>): Buffer {
  if (form === 'text') return binaryTextArray(values);
  const builder = new IntArrayBuilder(form, values.length);
  for (let i = 0; i < values.length; i += 1) builder.add(values[i]);
  return builder.finish();
}
