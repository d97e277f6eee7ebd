/**
 * Data over time: a timer that, per tenant, creates new alerts (alerts_v2 grouped into incidents, and legacy alerts)
 * or moves existing ones on (`updateRatio`), stamped with the simulator clock — what a live tenant looks like to a
 * poller and what feeds change notifications.
 */
import type { Resource } from '../record/types.js';
import { Random } from './generate-random.js';
import type { SimStore } from './store.js';

export interface FeedOptions {
  /** Events per second per tenant. */
  rate: number;
  /** Share of events that update an existing alert or incident. */
  updateRatio: number;
  seed: number;
}

/** Share of new alerts that are alerts_v2 (the rest are legacy alerts). */
const V2_SHARE = 2 / 3;
/** Events are generated in ticks of at most this long, so low rates still look continuous. */
const MAX_TICK_MS = 1000;

/** Starts the feed; returns a function that stops it. A rate of 0 starts nothing. */
export function startFeed(store: SimStore, tenantIds: readonly string[], opts: FeedOptions): () => void {
  if (!(opts.rate > 0)) return () => {};
  const rnd = new Random(opts.seed ^ 0xfeed);
  const tickMs = Math.max(10, Math.min(MAX_TICK_MS, Math.round(1000 / opts.rate)));
  // Fractional events carry over between ticks, so any rate (0.2/s, 37/s) averages out exactly.
  const owed = new Map<string, number>(tenantIds.map((t) => [t, 0]));
  const timer = setInterval(() => {
    for (const tenantId of tenantIds) {
      let due = (owed.get(tenantId) ?? 0) + (opts.rate * tickMs) / 1000;
      for (; due >= 1; due--) event(store, tenantId, rnd, opts.updateRatio);
      owed.set(tenantId, due);
    }
  }, tickMs);
  timer.unref();
  return () => clearInterval(timer);
}

function event(store: SimStore, tenantId: string, rnd: Random, updateRatio: number): void {
  if (rnd.chance(updateRatio)) {
    const resource = rnd.weighted<Resource>([
      ['alerts_v2', 5],
      ['alerts', 3],
      ['incidents', 2],
    ]);
    const existing = store.entries(tenantId, resource);
    // Resolved objects stay as they are; pick among the ones still moving (or any, to add a comment).
    if (existing.length) {
      store.update(tenantId, resource, String(rnd.pick(existing).obj.id));
      return;
    }
  }
  if (rnd.chance(V2_SHARE)) store.createGroupedAlert(tenantId);
  else store.create(tenantId, 'alerts');
}
