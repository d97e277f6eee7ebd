/**
 * The JSON Schema of the configuration file, generated from `ConfigSchema` (the input side: what a user writes,
 * defaults shown as `default`). Editors use it for completion (`# yaml-language-server: $schema=…`); the Helm chart
 * can reuse it. `npm run gen:schema` writes it to `config/schema.json`.
 *
 * Cross-field rules (unique names, `X` or `X_file`, …) are not expressible here; `alertbridge validate` checks them.
 */
import { z } from 'zod';
import { ConfigSchema } from './schema.js';

export const CONFIG_SCHEMA_TITLE = 'alertbridge configuration';

export function configJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(ConfigSchema, {
    io: 'input',
    target: 'draft-2020-12',
    override: ({ jsonSchema }) => {
      // zod states integer bounds it adds itself; they only add noise for a reader.
      if (jsonSchema.maximum === Number.MAX_SAFE_INTEGER) delete jsonSchema.maximum;
      if (jsonSchema.minimum === Number.MIN_SAFE_INTEGER) delete jsonSchema.minimum;
    },
  }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  return {
    $schema,
    title: CONFIG_SCHEMA_TITLE,
    ...rest,
    description:
      'Configuration of alertbridge (YAML). `${VAR}` and `${VAR:-default}` are expanded in string values; every secret also has a `*_file` form. Check a file with `alertbridge validate --config FILE`.',
  };
}
