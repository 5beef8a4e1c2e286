/** Reads a spec file (YAML or JSON: YAML parses both) and validates it. */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { validateSpec, type SpecResult } from '../common/spec';

export function loadSpec(path: string): SpecResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return { ok: false, problems: [`${path}: cannot read the spec file (${(err as NodeJS.ErrnoException).code ?? String(err)})`] };
  }
  let document: unknown;
  try {
    document = parse(text);
  } catch (err) {
    return { ok: false, problems: [`${path}: not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`] };
  }
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    return { ok: false, problems: [`${path}: expected a mapping with at least source and target`] };
  }
  return validateSpec(document);
}
