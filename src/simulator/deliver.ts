/**
 * Outgoing HTTP for change notifications: the validation handshake and notification / lifecycle POSTs. node:http(s)
 * rather than fetch so that loopback HTTPS receivers with self-signed certificates (tests, demo) can be reached.
 */
import http from 'node:http';
import https from 'node:https';

export interface CallResult {
  /** HTTP status; 0 for a network error or timeout. */
  status: number;
  body: string;
  contentType: string;
  ms: number;
  error?: string;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** True for `https:` URLs and for `http:` on loopback (local receivers in tests and the demo). */
export function acceptableNotificationUrl(raw: unknown): boolean {
  if (typeof raw !== 'string') return false;
  try {
    const u = new URL(raw);
    return u.protocol === 'https:' || (u.protocol === 'http:' && LOOPBACK.has(u.hostname));
  } catch {
    return false;
  }
}

/** POSTs `body` to `url`, giving up after `timeoutMs`. Never throws. */
export function post(url: string, body: string, contentType: string, timeoutMs: number): Promise<CallResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: Omit<CallResult, 'ms'>): void => {
      if (settled) return;
      settled = true;
      resolve({ ...r, ms: Math.round(performance.now() - started) });
    };
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      done({ status: 0, body: '', contentType: '', error: 'invalid URL' });
      return;
    }
    const lib = u.protocol === 'https:' ? https : http;
    const req = lib.request(
      u,
      {
        method: 'POST',
        headers: {
          'content-type': contentType,
          'content-length': Buffer.byteLength(body),
          'user-agent': 'alertbridge-graph-simulator',
        },
        // Self-signed receivers are only trusted on loopback.
        rejectUnauthorized: !LOOPBACK.has(u.hostname),
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          done({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            contentType: String(res.headers['content-type'] ?? ''),
          }),
        );
        res.on('error', (err) => done({ status: 0, body: '', contentType: '', error: err.message }));
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      done({ status: 0, body: '', contentType: '', error: `no answer within ${timeoutMs} ms` });
    }, timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('error', (err) => done({ status: 0, body: '', contentType: '', error: err.message }));
    req.end(body);
  });
}
