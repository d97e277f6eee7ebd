/**
 * The destinations a sink setting names, for `alertbridge doctor` to check each one (a Kafka topic, an event hub):
 * the name itself, or a template filled in with each configured source's fields. Only the fields the configuration
 * fixes — `{source}`, `{tenant}`, `{tenant_id}`, `{resource}` — can be filled in ahead of records; a template that
 * also uses a record's own fields (`{provider}`, `{severity}`, …) is checked per record at delivery instead.
 */
import type { AlertRecord, ProbeSample } from '../types.js';
import { NameTemplate, type NameRule, type TemplateField } from '../../src/record/name-template.js';

const FROM_CONFIG = new Set<TemplateField>(['source', 'tenant', 'tenant_id', 'resource']);

export type { ProbeSample };

export type ProbeNames = { names: string[]; invalid: string[] } | { skip: string };

export function probeNames(text: string, rule: NameRule, samples: readonly ProbeSample[]): ProbeNames {
  const template = NameTemplate.of(text, rule);
  const fields = template.fields;
  if (!fields.length) return { names: [text], invalid: [] };
  const other = fields.filter((f) => !FROM_CONFIG.has(f));
  if (other.length)
    return { skip: `"${text}" uses ${other.map((f) => `{${f}}`).join(', ')}: each name is checked at delivery` };
  if (!samples.length) return { skip: `"${text}": no configured source fills it in` };
  const names = new Set<string>();
  const invalid = new Set<string>();
  for (const s of samples) {
    const r = template.render(s as AlertRecord);
    if (r.ok) names.add(r.name);
    else invalid.add(r.reason);
  }
  return { names: [...names], invalid: [...invalid] };
}
