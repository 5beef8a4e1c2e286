// spec.schema.json is generated from the zod schema that validates specs; the committed file
// must be what the current schema gives, so editors check specs as pgferry does.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SPEC_SCHEMA_FILE, renderSpecJsonSchema, specJsonSchema } from '../../common/spec-json-schema';
import { repoRoot } from '../../launch/repo-root';

describe('spec JSON Schema', () => {
  it('is committed as generated (npm run spec-schema writes it)', () => {
    const committed = readFileSync(join(repoRoot(), SPEC_SCHEMA_FILE), 'utf8');
    expect(committed, `${SPEC_SCHEMA_FILE} differs from the spec schema: run npm run spec-schema and commit it`).toBe(renderSpecJsonSchema());
  });

  it('describes what a user writes: only source and target required, a URL or an object for each, a name or an object per database', () => {
    const schema = specJsonSchema() as { required: string[]; properties: Record<string, any> };
    expect(schema.required).toEqual(['source', 'target']);
    expect(schema.properties.source.anyOf.map((s: { type: string }) => s.type)).toEqual(['string', 'object']);
    expect(schema.properties.databases.items.anyOf.map((s: { type: string }) => s.type)).toEqual(['string', 'object']);
    expect(schema.properties.retry.properties.connectionMinutes.default).toBe(720);
  });
});
