/**
 * Where one record lands when a sink's destination is a template of its fields (Kafka's `topic`, Event Hubs'
 * `event_hub_name`): the rendered name, or the error that dead-letters that record alone. The same rule in every
 * sink (src/record/name-template.ts): a record whose name is invalid fails by itself, permanently, with the reason,
 * and the rest of its batch is delivered.
 */
import type { AlertRecord } from '../types.js';
import { PermanentError } from '../../src/util/errors.js';
import type { NameTemplate } from '../../src/record/name-template.js';

/**
 * @param sink the sink in words, ending the error ("kafka sink 'main'").
 * @returns `{ name }`, or `{ error }` for a record whose name breaks the destination's rules.
 */
export function destinationOf(
  template: NameTemplate,
  r: AlertRecord,
  sink: string,
): { name: string; error?: undefined } | { name?: undefined; error: PermanentError } {
  const rendered = template.render(r);
  if (rendered.ok) return { name: rendered.name };
  return { error: new PermanentError(`record ${r.key}: ${rendered.reason} in ${sink}`) };
}
