/**
 * Partner push authentication. Either scheme, or both, per source:
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

export function checkPushAuth(cfg: PushAuthConfig, headers: Record<string, string | string[] | undefined>,
  body: Buffer, now = Date.now()): AuthResult {
  const authz = headers.authorization;
  if (cfg.token && typeof authz === 'string' && /^Bearer /i.test(authz)) {
    return safeEqual(authz.slice(7).trim(), cfg.token) ? { ok: true } : { ok: false, reason: 'invalid bearer token' };
  }
  const sig = headers['x-alertbridge-signature'];
  const ts = headers['x-alertbridge-timestamp'];
  if (cfg.hmac_secret && typeof sig === 'string') {
    if (typeof ts !== 'string' || !/^\d{1,12}$/.test(ts)) return { ok: false, reason: 'missing or invalid X-Alertbridge-Timestamp' };
    if (Math.abs(now - Number(ts) * 1000) > cfg.hmac_replay_window_ms) return { ok: false, reason: 'timestamp outside the replay window' };
    return safeEqual(sig, signPush(cfg.hmac_secret, ts, body)) ? { ok: true } : { ok: false, reason: 'invalid signature' };
  }
  const schemes = [cfg.token ? 'Authorization: Bearer' : null, cfg.hmac_secret ? 'X-Alertbridge-Signature' : null].filter(Boolean);
  return { ok: false, reason: `missing credentials (send ${schemes.join(' or ')})` };
}
