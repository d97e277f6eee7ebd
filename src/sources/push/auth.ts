/**
 * Partner push authentication. Either scheme, or both, per source; a request must pass every scheme its source
 * configures (with both, a bearer token alone is not enough: the signature is what binds the body):
 *
 * - `Authorization: Bearer <token>`, compared in constant time.
 * - HMAC-SHA256: `X-Alertbridge-Timestamp: <unix seconds>` and
 *   `X-Alertbridge-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`. A timestamp outside
 *   the replay window (default ±300 s) is refused, so a captured request cannot be replayed later.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface PushAuthConfig {
  token?: string;
  hmac_secret?: string;
  hmac_replay_window_ms: number;
}

export type AuthResult = { ok: true } | { ok: false; reason: string };

export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  // Compare equal-length buffers so the time taken does not reveal where they differ.
  if (ab.length !== bb.length) {
    timingSafeEqual(ab, ab);
    return false;
  }
  return timingSafeEqual(ab, bb);
}

export function signPush(secret: string, timestamp: number | string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

export function checkPushAuth(
  cfg: PushAuthConfig,
  headers: Record<string, string | string[] | undefined>,
  body: Buffer,
  now = Date.now(),
): AuthResult {
  if (!cfg.token && !cfg.hmac_secret) return { ok: false, reason: 'no credentials configured for this source' };
  const missing: string[] = [];
  if (cfg.token) {
    const authz = headers.authorization;
    if (typeof authz !== 'string' || !/^Bearer /i.test(authz)) missing.push('Authorization: Bearer');
    else if (!safeEqual(authz.slice(7).trim(), cfg.token)) return { ok: false, reason: 'invalid bearer token' };
  }
  if (cfg.hmac_secret) {
    const sig = headers['x-alertbridge-signature'];
    const ts = headers['x-alertbridge-timestamp'];
    if (typeof sig !== 'string') missing.push('X-Alertbridge-Signature');
    else {
      if (typeof ts !== 'string' || !/^\d{1,12}$/.test(ts))
        return { ok: false, reason: 'missing or invalid X-Alertbridge-Timestamp' };
      if (Math.abs(now - Number(ts) * 1000) > cfg.hmac_replay_window_ms)
        return { ok: false, reason: 'timestamp outside the replay window' };
      if (!safeEqual(sig, signPush(cfg.hmac_secret, ts, body))) return { ok: false, reason: 'invalid signature' };
    }
  }
  return missing.length ? { ok: false, reason: `missing credentials (send ${missing.join(' and ')})` } : { ok: true };
}
