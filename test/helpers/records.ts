/** Records for pipeline tests, made by the real normalizer from small alerts_v2 objects. */
import { normalize } from '../../src/record/normalize.js';
import { shardOf } from '../../src/pipeline/keys.js';
import type { AlertRecord } from '../../src/record/types.js';

export function alertV2(
  i: number,
  opts: { updated?: string; severity?: string; provider?: string; tenant?: string } = {},
): Record<string, unknown> {
  return {
    '@odata.type': '#microsoft.graph.security.alert',
    id: `da${String(i).padStart(8, '0')}_test`,
    tenantId: opts.tenant ?? '11111111-2222-3333-4444-555555555555',
    serviceSource: opts.provider ?? 'microsoftDefenderForEndpoint',
    title: `Test alert ${i}`,
    severity: opts.severity ?? 'medium',
    status: 'new',
    createdDateTime: '2026-11-01T10:00:00.0000000Z',
    lastUpdateDateTime: opts.updated ?? '2026-11-01T10:00:00.0000000Z',
  };
}

export function record(i: number, opts: Parameters<typeof alertV2>[1] & { source?: string } = {}): AlertRecord {
  const res = normalize('alerts_v2', alertV2(i, opts), { source: opts.source ?? 'test', via: 'poll' });
  if (!res.ok) throw new Error(res.reason);
  return res.record;
}

export function records(n: number, opts: Parameters<typeof record>[1] = {}, start = 0): AlertRecord[] {
  return Array.from({ length: n }, (_, i) => record(start + i, opts));
}

/**
 * `n` records whose keys all fall in one inbox shard (src/pipeline/keys.ts), for tests about how one staged batch
 * becomes sink jobs: records of several shards are staged, and cut into jobs, per shard.
 */
export function recordsInOneShard(n: number, opts: Parameters<typeof record>[1] = {}, shard = 0): AlertRecord[] {
  const out: AlertRecord[] = [];
  for (let i = 0; out.length < n; i++) {
    const r = record(i, opts);
    if (shardOf(r.key) === shard) out.push(r);
  }
  return out;
}

/** `n` alerts_v2 objects whose records (as `source` reads them, `via` push or poll) fall in one inbox shard. */
export function alertsInOneShard(
  n: number,
  source: string,
  via: 'push' | 'poll',
  shard = 0,
): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (let i = 0; out.length < n; i++) {
    const alert = alertV2(i);
    const res = normalize('alerts_v2', alert, { source, via });
    if (res.ok && shardOf(res.record.key) === shard) out.push(alert);
  }
  return out;
}
