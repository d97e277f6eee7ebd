/**
 * Building blocks of the configuration schema: field helpers, shared patterns and the registry that tells the loader
 * which strings are secrets and which are file paths. Kept apart from `schema.ts` so that the schema reads as a list
 * of fields.
 */
import { z } from 'zod';
import { validate as validateCron, validateDetailed as validateCronDetailed } from 'node-cron';

/** What the loader must know about a leaf beyond its type. */
export interface FieldKind {
  /** Never printed (errors, logs); has a `*_file` twin that the loader reads. */
  secret?: true;
  /** A filesystem path: made absolute against the config file's folder. */
  path?: true;
}

/** Marks secret and path leaves. Looked up by schema instance (see `schema-walk.ts`). */
export const fieldKinds = z.registry<FieldKind>();

/**
 * Key names that hold secrets anywhere in the configuration. Each also accepts a `<key>_file` form. Loggers redact
 * these (see `SECRET_PATHS` in `schema.ts` for full paths).
 */
export const SECRET_KEYS = [
  'password',
  'client_secret',
  'certificate_password',
  'token',
  'hmac_secret',
  'connection_string',
  'client_state',
  'oauth_token',
  'proxy_url',
] as const;
export type SecretKey = (typeof SECRET_KEYS)[number];

/**
 * `proxy_url`: an outbound HTTP proxy. A secret, since it may carry the proxy's user and password; checked here as
 * a URL so that a typo is a validation error, not a failure at the first request.
 */
export function proxyUrlPair(what: string) {
  return secretPair(
    'proxy_url',
    `HTTP proxy for ${what}, \`http://[user:password@]host:port\` (CONNECT tunnels; TLS stays end to end). Default: the \`HTTPS_PROXY\` / \`HTTP_PROXY\` / \`NO_PROXY\` environment.`,
  );
}

/** Cross-field check of {@link proxyUrlPair}'s inline value (a `proxy_url_file` is read after validation). */
export function checkProxyUrl(
  value: Record<string, unknown>,
  addIssue: (path: (string | number)[], message: string) => void,
): void {
  const url = value.proxy_url;
  if (typeof url !== 'string') return;
  let ok = false;
  try {
    ok = ['http:', 'https:'].includes(new URL(url).protocol);
  } catch {
    ok = false;
  }
  if (!ok) addIssue(['proxy_url'], 'must be an http:// or https:// URL, e.g. http://proxy.example.com:3128');
}

/** A component name: it appears in URLs, metric labels, Redis keys and records. */
export function componentName(kind: 'source' | 'sink') {
  return z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]*$/, {
      error: 'must be lowercase letters, digits, "_" or "-", starting with a letter or digit',
    })
    .max(64)
    .describe(
      `Unique ${kind} name (lowercase letters, digits, \`_\`, \`-\`). It appears in ${
        kind === 'source' ? 'records (`source`), webhook URLs,' : 'dead-letter commands,'
      } metric labels and logs.`,
    );
}

/** A filesystem path; relative paths are resolved against the configuration file's folder. */
export function filePath(description: string) {
  const schema = z.string().min(1).describe(`${description} Relative paths are relative to the configuration file.`);
  fieldKinds.add(schema, { path: true });
  return schema;
}

type SecretPair<K extends string> = { [P in K]: z.ZodOptional<z.ZodString> } & {
  [P in `${K}_file`]: z.ZodOptional<z.ZodString>;
};

/**
 * A secret and its `<key>_file` twin (a Kubernetes Secret mounted as a file). The loader accepts exactly one of the
 * two, reads the file into `<key>` and keeps `<key>_file` so that the daemon can re-read a rotated secret.
 */
export function secretPair<K extends SecretKey>(
  key: K,
  description: string,
  opts: { maxLength?: number } = {},
): SecretPair<K> {
  let value = z.string().min(1);
  if (opts.maxLength !== undefined) value = value.max(opts.maxLength);
  const secret = value.describe(`${description} Secret: prefer \`\${ENV_VAR}\` or \`${key}_file\`.`);
  fieldKinds.add(secret, { secret: true });
  const file = filePath(`File whose content is \`${key}\` (a trailing newline is ignored).`);
  return { [key]: secret.optional(), [`${key}_file`]: file.optional() } as SecretPair<K>;
}

/** A positive whole number of milliseconds with a default. */
export function millis(defaultValue: number, description: string, range: { min?: number; max?: number } = {}) {
  return z
    .number()
    .int()
    .min(range.min ?? 1)
    .max(range.max ?? Number.MAX_SAFE_INTEGER)
    .default(defaultValue)
    .describe(description);
}

/** A whole number within a range, with a default. */
export function count(defaultValue: number, min: number, max: number, description: string) {
  return z.number().int().min(min).max(max).default(defaultValue).describe(description);
}

const GUID = '[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}';
const DOMAIN = '(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]{2,63}';

/** An Entra ID tenant: its GUID or one of its verified domains. */
export function tenantId(description: string) {
  return z
    .string()
    .regex(new RegExp(`^(?:${GUID}|${DOMAIN})$`), {
      error: 'must be a tenant GUID or domain (e.g. contoso.onmicrosoft.com)',
    })
    .describe(description);
}

const PORT = '(?:6553[0-5]|655[0-2]\\d|65[0-4]\\d{2}|6[0-4]\\d{3}|[1-5]\\d{4}|\\d{1,4})';
const HOST = '(?:\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)';

/** `host:port`, IPv6 hosts in brackets (`[::1]:8080`). */
export function hostPort(description: string, example: string) {
  return z
    .string()
    .regex(new RegExp(`^${HOST}:${PORT}$`), { error: `must be host:port (e.g. ${example})` })
    .describe(description);
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * An `https://` URL. With `allowLoopbackHttp`, `http://` is accepted for localhost only (tests, local simulators):
 * credentials never cross a network in the clear.
 */
export function httpsUrl(description: string, opts: { allowLoopbackHttp?: boolean } = {}) {
  const base = z.url({ protocol: /^https?$/, error: 'must be an https:// URL' });
  return base
    .refine(
      (value) => {
        const url = new URL(value);
        return url.protocol === 'https:' || (opts.allowLoopbackHttp === true && LOOPBACK.has(url.hostname));
      },
      {
        error: opts.allowLoopbackHttp
          ? 'must be an https:// URL (http:// only for localhost)'
          : 'must be an https:// URL',
      },
    )
    .describe(description);
}

/** An `http://` or `https://` URL. */
export function httpUrl(description: string) {
  return z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).describe(description);
}

/** A node-cron expression (5 fields, or 6 with seconds first). */
export function cronExpression(description: string) {
  return z
    .string()
    .superRefine((value, ctx) => {
      if (validateCron(value)) return;
      const first = validateCronDetailed(value).errors[0];
      let detail = '';
      if (first?.field === 'expression') detail = `: ${first.message}`;
      else if (first) detail = `: bad ${first.field} field "${first.value}"`;
      ctx.addIssue({ code: 'custom', message: `invalid cron expression${detail}`, input: value });
    })
    .describe(description);
}

/** Clouds alertbridge knows the Entra ID and Graph endpoints of (graph-api-notes.md "Auth and clouds"). */
export const CLOUDS = {
  global: { authority_url: 'https://login.microsoftonline.com', graph_url: 'https://graph.microsoft.com' },
  usgov: { authority_url: 'https://login.microsoftonline.us', graph_url: 'https://graph.microsoft.us' },
  usgov_dod: { authority_url: 'https://login.microsoftonline.us', graph_url: 'https://dod-graph.microsoft.us' },
  china: { authority_url: 'https://login.chinacloudapi.cn', graph_url: 'https://microsoftgraph.chinacloudapi.cn' },
} as const;
export type Cloud = keyof typeof CLOUDS;
export const CLOUD_NAMES = Object.keys(CLOUDS) as [Cloud, ...Cloud[]];

/** How alertbridge obtains Entra ID tokens. */
export const AUTH_METHODS = ['client_secret', 'certificate', 'workload_identity', 'managed_identity'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

/** Lets a refinement run even when sibling fields failed, so that one pass reports every problem. */
export const ALWAYS = { when: () => true } as const;

export type AddIssue = (path: (string | number)[], message: string) => void;

/**
 * Arguments for `.superRefine(...)`: a cross-field rule that runs even when other fields failed (so one pass reports
 * every problem), and therefore sees unvalidated data: `fn` gets a plain object or is not called at all.
 */
export function crossCheck(fn: (value: Record<string, unknown>, addIssue: AddIssue) => void) {
  return [
    (value: unknown, ctx: z.RefinementCtx) => {
      if (isRecord(value)) fn(value, (path, message) => ctx.addIssue({ code: 'custom', path, message }));
    },
    ALWAYS,
  ] as const;
}

/** A plain object, as parsed from YAML. Refinements that run with `ALWAYS` see unvalidated data. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether a secret or its `_file` twin was given. */
export function hasSecret(value: Record<string, unknown>, key: SecretKey): boolean {
  return value[key] !== undefined || value[`${key}_file`] !== undefined;
}
