/** Records for pipeline tests, made by the real normalizer from small alerts_v2 objects. */
import { normalize } from '../../src/record/normalize.js';
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
