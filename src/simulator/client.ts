/**
 * A minimal HTTPS client that trusts one simulator's CA: for tests and scripts that talk to the simulator without a
 * full Graph client (global `fetch` cannot take a per-call CA in Node 20 without extra packages).
 */
import https from 'node:https';

export interface SimCallOptions {
  method?: string;
  /** Bearer token for Graph routes. */
  token?: string;
  headers?: Record<string, string>;
  /** Objects are sent as JSON; strings as they are (set the content type in `headers`). */
  body?: unknown;
}

export interface SimCallResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

/**
 * Calls `target` — a path on the simulator (`/v1.0/security/alerts_v2?$top=5`) or an absolute URL such as an
 * `@odata.nextLink` — trusting `caPem`.
 */
export function callSimulator(
  base: { url: string; caPem: string },
  target: string,
  opts: SimCallOptions = {},
): Promise<SimCallResult> {
  const url = new URL(target, base.url);
  const payload =
    opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (payload !== undefined) {
    headers['content-type'] ??= 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: opts.method ?? 'GET', headers, ca: base.caPem }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text ? (JSON.parse(text) as unknown) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}
