/**
 * The spec's JSON Schema, generated from the zod schema that validates specs (`z.toJSONSchema`)
 * so that editors (yaml-language-server, VS Code) complete and check spec files as pgferry
 * reads them. It describes what a user writes (zod's input side): fields with a default are
 * optional and show it. Checks zod runs in code (refinements: sizes, name lengths, patterns
 * that must parse) are not in it; `pgferry start` still makes them.
 *
 * `npm run spec-schema` writes it to spec.schema.json; test/unit/spec-json-schema.test.ts fails
 * when that file is not what this gives.
 */
import { z } from 'zod';
import { shorthands, specSchema } from './spec';

export const SPEC_SCHEMA_FILE = 'spec.schema.json';

export function specJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(specSchema, {
    io: 'input',
    override: ({ zodSchema, jsonSchema }) => {
      const shorthand = shorthands.get(zodSchema);
      if (!shorthand) return;
      // The object form as generated, and the shorthand beside it.
      const objectForm = { ...jsonSchema };
      for (const key of Object.keys(jsonSchema)) delete (jsonSchema as Record<string, unknown>)[key];
      const { $schema: _, ...shorthandSchema } = z.toJSONSchema(shorthand, { io: 'input', unrepresentable: 'any' });
      jsonSchema.anyOf = [shorthandSchema, objectForm];
    },
  });
  return { ...schema, title: 'pgferry migration spec' };
}

/** The file's text: two-space indents and a final newline. */
export function renderSpecJsonSchema(): string {
  return JSON.stringify(specJsonSchema(), null, 2) + '\n';
}
