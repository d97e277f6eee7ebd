/**
 * The names of sources expanded from a `tenants` entry (tenants.ts): `{source}/{tenant}`. Apart from the schema, so
 * that the pipeline and the sinks can read a record's `source` without loading the configuration.
 */

/** Separates a source's name from its tenant's in an expanded source's name; never part of a configured name. */
export const TENANT_SEPARATOR = '/';

/** The configured source an expanded source's name belongs to (`mssp/fabrikam` → `mssp`); a plain name itself. */
export function groupOf(sourceName: string): string {
  const at = sourceName.indexOf(TENANT_SEPARATOR);
  return at < 0 ? sourceName : sourceName.slice(0, at);
}

/** The tenant part of an expanded source's name (`mssp/fabrikam` → `fabrikam`); a plain name itself. */
export function tenantNameOf(sourceName: string): string {
  const at = sourceName.indexOf(TENANT_SEPARATOR);
  return at < 0 ? sourceName : sourceName.slice(at + 1);
}
