/**
 * Whether the namespace has pgferry's search attributes (common/search-attributes.ts). A
 * migration upserts them only then: on a cluster without them it runs the same, its list entry
 * just cannot be filtered, and `pgferry start` says how to register them.
 */
import type { Client } from '@temporalio/client';
import { cliTypeName, PGFERRY_SEARCH_ATTRIBUTES } from '../common/search-attributes';

export interface SearchAttributeCheck {
  registered: boolean;
  /** What to tell the operator when they are not (absent when they are). */
  notice?: string;
}

export async function checkSearchAttributes(client: Client, namespace: string): Promise<SearchAttributeCheck> {
  let custom: Record<string, unknown>;
  try {
    const response = await client.connection.operatorService.listSearchAttributes({ namespace });
    custom = (response.customAttributes ?? {}) as Record<string, unknown>;
  } catch (err) {
    // Temporal Cloud answers this only to an account admin's key: say so, and go on without them.
    return { registered: false, notice: `could not list the namespace's search attributes (${(err as Error).message.split('\n')[0]}); the migration runs without them. ${howToRegister(namespace)}` };
  }
  const missing = PGFERRY_SEARCH_ATTRIBUTES.filter((key) => custom[key.name] === undefined);
  if (!missing.length) return { registered: true };
  return {
    registered: false,
    notice: `the namespace lacks pgferry's search attributes (${missing.map((k) => k.name).join(', ')}): the migration runs, but the Web UI cannot filter it by phase or lag. ${howToRegister(namespace, missing)}`,
  };
}

/** The `temporal` commands that register them (once per namespace). */
export function howToRegister(namespace: string, keys = PGFERRY_SEARCH_ATTRIBUTES): string {
  const commands = keys.map((k) => `temporal operator search-attribute create --namespace ${namespace} --name ${k.name} --type ${cliTypeName(k.type)}`);
  return `Register them once with:\n  ${commands.join('\n  ')}`;
}
