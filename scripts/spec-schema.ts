/** Writes spec.schema.json at the repository root from the spec's zod schema: `npm run spec-schema`. */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SPEC_SCHEMA_FILE, renderSpecJsonSchema } from '../common/spec-json-schema';

const file = resolve(__dirname, '..', '..', SPEC_SCHEMA_FILE);
writeFileSync(file, renderSpecJsonSchema());
console.log(`wrote ${file}`);
