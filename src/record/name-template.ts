/**
 * Templates of where a record lands: a sink setting such as Kafka's `topic: "alerts.{tenant_id}"`, Splunk HEC's
 * `index: "cust_{tenant}"` or Event Hubs' `event_hub_name: "{tenant}-alerts"` names a destination per record. One
 * engine for every sink, reached through the sink kit (sinks/kit.ts), so the fields, the syntax and the errors are
 * the same everywhere; the configuration reference lists the fields from here too.
 *
 * - At start (the config schema, {@link nameTemplate}): the syntax, the field names (an unknown one is an error that
 *   lists the known ones) and the literal text (against the destination's characters) are checked; a template
 *   without fields is checked whole.
 * - Per record ({@link NameTemplate.render}): the fields are filled in and the result is checked against the
 *   destination's rules ({@link NameRule}). Field values are never rewritten (two tenants must never be merged into
 *   one destination by a substitution), except for case where the destination ignores it (Splunk index names are
 *   lowercase). A record whose name is invalid fails alone, permanently: the sink dead-letters it with the reason,
 *   and the rest of its batch is delivered.
 */
import { z } from 'zod';
import { tenantNameOf } from '../config/tenant-name.js';
import type { AlertRecord } from './types.js';

/** The record fields a template may use, and what each is. */
export const TEMPLATE_FIELDS = {
  source: 'the source name (`mssp/contoso` for a tenant of a source with `tenants`)',
  tenant: 'the tenant’s name under its source’s `tenants` (`contoso`), else the source name',
  tenant_id: "the record's Entra ID tenant id (Graph names it by GUID)",
  resource: '`alerts_v2`, `incidents`, `alerts`, `secure_scores`, …; a streamed table as `streaming.<Table>`',
  provider: 'the product (`microsoftDefenderForEndpoint`, …)',
  severity: '`informational`, `low`, `medium`, `high`, `unknown`',
  status: '`new`, `inProgress`, `resolved`, …',
  via: '`poll`, `webhook`, `push`, `streaming`, `sync`',
} as const;
export type TemplateField = keyof typeof TEMPLATE_FIELDS;
const FIELD_NAMES = Object.keys(TEMPLATE_FIELDS) as TemplateField[];

/** What a destination name may be: checked on literal text at start and on each rendered name. */
export interface NameRule {
  /** What the name is, in messages: "Kafka topic". */
  what: string;
  /** One allowed character (literal text of a template is checked with it). */
  char: RegExp;
  /** What `char` allows, in words. */
  charText: string;
  maxLength: number;
  /** Lowercase rendered values first (the destination treats names case-insensitively, in lowercase). */
  lowercase?: boolean;
  /** Rules beyond the characters and length; the reason a name breaks one. */
  check?(name: string): string | undefined;
}

export const KAFKA_TOPIC: NameRule = {
  what: 'Kafka topic',
  char: /[A-Za-z0-9._-]/,
  charText: 'letters, digits, ".", "_", "-"',
  maxLength: 249,
  check: (name) => (name === '.' || name === '..' ? 'cannot be "." or ".."' : undefined),
};

/** Splunk index names: lowercase letters, digits, `_`, `-`; not starting with `_` or `-`; never "kvstore". */
export const SPLUNK_INDEX: NameRule = {
  what: 'Splunk index',
  char: /[a-z0-9_-]/,
  charText: 'lowercase letters, digits, "_", "-"',
  maxLength: 80,
  lowercase: true,
  check: (name) =>
    /^[_-]/.test(name)
      ? 'cannot start with "_" or "-"'
      : name.includes('kvstore')
        ? 'cannot contain "kvstore"'
        : undefined,
};

export const SPLUNK_SOURCETYPE: NameRule = {
  what: 'Splunk sourcetype',
  // eslint-disable-next-line no-control-regex
  char: /[^\u0000-\u001f\u007f]/,
  charText: 'no control characters',
  maxLength: 1024,
};

/** Event Hubs entity names: letters, digits, `.`, `-`, `_`, starting and ending with a letter or digit. */
export const EVENT_HUB_NAME: NameRule = {
  what: 'event hub name',
  char: /[A-Za-z0-9._-]/,
  charText: 'letters, digits, ".", "_", "-"',
  maxLength: 256,
  check: (name) =>
    /^[A-Za-z0-9](?:.*[A-Za-z0-9])?$/.test(name) ? undefined : 'must start and end with a letter or digit',
};

type Part = string | { field: TemplateField };
export type Rendered = { ok: true; name: string } | { ok: false; reason: string };

/** A parsed template: literal text and fields. */
export class NameTemplate {
  private constructor(
    readonly text: string,
    private readonly parts: readonly Part[],
    private readonly rule: NameRule,
  ) {}

  /** The template's fields; none for a plain name. */
  get fields(): TemplateField[] {
    return this.parts.flatMap((p) => (typeof p === 'string' ? [] : [p.field]));
  }

  /** The name for a record, or why it has none. */
  render(record: AlertRecord): Rendered {
    let name = '';
    for (const part of this.parts) {
      if (typeof part === 'string') name += part;
      else {
        const value = fieldValue(record, part.field);
        name += this.rule.lowercase ? value.toLowerCase() : value;
      }
    }
    const reason = checkName(name, this.rule);
    return reason
      ? { ok: false, reason: `${this.rule.what} "${name}" (from "${this.text}") ${reason}` }
      : { ok: true, name };
  }

  /** Parses a template; the problems of it as written (syntax, unknown fields, literal text), when any. */
  static parse(text: string, rule: NameRule): { template: NameTemplate; errors: [] } | { errors: string[] } {
    const parts: Part[] = [];
    const errors: string[] = [];
    const unknown: string[] = [];
    const re = /\{([^{}]*)\}/g;
    let last = 0;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      parts.push(text.slice(last, m.index));
      const field = m[1]!;
      if ((FIELD_NAMES as string[]).includes(field)) parts.push({ field: field as TemplateField });
      else unknown.push(`{${field}}`);
      last = m.index + m[0].length;
    }
    parts.push(text.slice(last));
    const literal = parts.filter((p): p is string => typeof p === 'string' && p !== '');
    if (unknown.length)
      errors.push(
        `unknown template field ${unknown.join(', ')} (fields: ${FIELD_NAMES.map((f) => `{${f}}`).join(', ')})`,
      );
    if (literal.some((p) => p.includes('{') || p.includes('}')))
      errors.push('has an unmatched "{" or "}" (a field is written {name})');
    else {
      const bad = [...new Set(literal.join('').split(''))].filter((c) => !rule.char.test(c));
      if (bad.length)
        errors.push(
          `${bad.map((c) => JSON.stringify(c)).join(', ')} cannot be part of a ${rule.what} (${rule.charText})`,
        );
    }
    const fieldsUsed = parts.some((p) => typeof p !== 'string');
    if (!fieldsUsed && errors.length === 0 && !unknown.length) {
      const reason = checkName(text, rule);
      if (reason) errors.push(`${rule.what} ${reason}`);
    }
    if (errors.length) return { errors };
    return {
      template: new NameTemplate(
        text,
        parts.filter((p) => p !== ''),
        rule,
      ),
      errors: [],
    };
  }

  /** A template already validated by its schema ({@link nameTemplate}). */
  static of(text: string, rule: NameRule): NameTemplate {
    const r = NameTemplate.parse(text, rule);
    if (!('template' in r)) throw new Error(`invalid ${rule.what} template "${text}": ${r.errors.join('; ')}`);
    return r.template;
  }
}

function fieldValue(record: AlertRecord, field: TemplateField): string {
  if (field === 'tenant') return tenantNameOf(record.source ?? '');
  // Streamed tables' resources are `streaming/<Table>`: "/" is in no destination's names, "." in most.
  if (field === 'resource') return (record.resource ?? '').replaceAll('/', '.');
  const value = (record as unknown as Record<string, unknown>)[field];
  return typeof value === 'string' ? value : '';
}

function checkName(name: string, rule: NameRule): string | undefined {
  if (name === '') return 'is empty';
  if (name.length > rule.maxLength) return `is longer than ${rule.maxLength} characters`;
  const bad = [...new Set(name.split(''))].filter((c) => !rule.char.test(c));
  if (bad.length) return `has ${bad.map((c) => JSON.stringify(c)).join(', ')}: only ${rule.charText}`;
  return rule.check?.(name);
}

/**
 * A config string that is a destination name or a template of one: validated at start as {@link NameTemplate.parse}
 * says, each problem reported at the setting's path.
 */
export function nameTemplate(rule: NameRule, description: string) {
  return z
    .string()
    .min(1)
    .superRefine((value, ctx) => {
      const r = NameTemplate.parse(value, rule);
      for (const message of r.errors) ctx.addIssue({ code: 'custom', message, input: value });
    })
    .describe(
      `${description} A template of the record's fields: ${FIELD_NAMES.map((f) => `\`{${f}}\``).join(', ')} (docs/configuration.md#sink-templates); a record whose ${rule.what} is invalid is dead-lettered with the reason.`,
    );
}
