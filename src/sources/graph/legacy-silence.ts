/**
 * Legacy `alerts` retirement watch: Microsoft's legacy security alerts API stops returning data (2026-10-15 in the
 * global cloud) without failing — it answers 200 with nothing. A legacy poller that has read nothing for a day says
 * so: a warning in the log (at most hourly per source and process) and `alertbridge_graph_legacy_silent{source}` = 1.
 * The time of the last non-empty poll is kept in Redis, so replicas and restarts share it.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Metrics } from '../../observability/metrics.js';
import { keysFor } from '../../pipeline/keys.js';
import { LEGACY_ALERTS_RETIREMENT } from '../../config/retirement.js';

/** Nothing read for this long counts as silent. */
export const LEGACY_SILENT_AFTER_MS = 86_400_000;
const WARN_EVERY_MS = 3_600_000;

export interface LegacySilenceDeps {
  redis: Redis;
  prefix: string;
  source: string;
  tenantId: string;
  metrics: Metrics;
}

/** Last warning per `prefix/source`, so a silent source warns hourly, not every poll. */
const lastWarned = new Map<string, number>();

/**
 * Records one finished legacy poll that read `fetched` objects; returns whether the source is now silent (nothing
 * for {@link LEGACY_SILENT_AFTER_MS}). The first poll ever starts the clock.
 */
export async function noteLegacyPoll(
  deps: LegacySilenceDeps,
  log: Logger,
  fetched: number,
  now = Date.now(),
): Promise<boolean> {
  const key = keysFor(deps.prefix).legacyLastData(deps.source);
  const gauge = deps.metrics.graphLegacySilent;
  if (fetched > 0) {
    await deps.redis.set(key, String(now));
    gauge.set({ source: deps.source }, 0);
    return false;
  }
  await deps.redis.set(key, String(now), 'NX');
  const since = Number(await deps.redis.get(key));
  const silentMs = now - since;
  if (!(silentMs >= LEGACY_SILENT_AFTER_MS)) {
    gauge.set({ source: deps.source }, 0);
    return false;
  }
  gauge.set({ source: deps.source }, 1);
  const warnKey = `${deps.prefix}/${deps.source}`;
  if (now - (lastWarned.get(warnKey) ?? -Infinity) >= WARN_EVERY_MS) {
    lastWarned.set(warnKey, now);
    log.warn(
      { since: new Date(since).toISOString(), hours: Math.floor(silentMs / 3_600_000) },
      `legacy alerts of source '${deps.source}' (tenant ${deps.tenantId}) have returned nothing since ${new Date(since).toISOString()}: Microsoft retired the legacy security alerts API on ${LEGACY_ALERTS_RETIREMENT} (global cloud); read alerts_v2 and incidents instead`,
    );
  }
  return true;
}
