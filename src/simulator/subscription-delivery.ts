/**
 * Delivery of change notifications to one subscription's endpoint: notifications are gathered for `batchMs` and
 * POSTed together (up to `maxBatch`), one request in flight per subscription; a non-2xx answer, an error or a slow
 * answer (> `deliveryTimeoutMs`) schedules a retry with doubling delay, and a notification still undelivered after
 * `retryWindowMs` is dropped — Graph's behaviour, on shorter clocks under test.
 */
import type { Filter } from './odata.js';
import { post } from './deliver.js';
import type { DeliveryLogEntry, SubscriptionOptions } from './types.js';

/** A stored subscription: Graph's fields plus the tenant and parsed resource filter. */
export interface Subscription {
  id: string;
  resource: string;
  applicationId: string;
  changeType: string;
  clientState: string | null;
  notificationUrl: string;
  lifecycleNotificationUrl: string | null;
  expirationDateTime: string;
  creatorId: string;
  latestSupportedTlsVersion: string;
  tenantId: string;
  filter: Filter | null;
}

interface Pending {
  item: Record<string, unknown>;
  firstAt: number;
  nextAt: number;
  attempt: number;
}

interface Outbox {
  queue: Pending[];
  timer?: NodeJS.Timeout;
  inFlight: boolean;
}

export class SubscriptionDelivery {
  private readonly outboxes = new Map<string, Outbox>();
  private readonly batchMs: number;
  private readonly maxBatch: number;
  private readonly retryBaseMs: number;
  private readonly retryWindowMs: number;
  private readonly timeoutMs: number;
  private closed = false;

  constructor(
    opts: SubscriptionOptions,
    private readonly log: (e: DeliveryLogEntry) => void,
    private readonly alive: (sub: Subscription) => boolean,
  ) {
    this.batchMs = opts.batchMs ?? 200;
    this.maxBatch = opts.maxBatch ?? 50;
    this.retryBaseMs = opts.retryBaseMs ?? 5000;
    this.retryWindowMs = opts.retryWindowMs ?? 4 * 3600_000;
    this.timeoutMs = opts.deliveryTimeoutMs ?? 3000;
  }

  enqueue(sub: Subscription, item: Record<string, unknown>): void {
    if (this.closed) return;
    const box = this.box(sub);
    const now = Date.now();
    box.queue.push({ item, firstAt: now, nextAt: now, attempt: 0 });
    this.schedule(sub, box, this.batchMs);
  }

  /** Forgets a deleted or expired subscription's pending notifications. */
  drop(sub: Subscription): void {
    const box = this.outboxes.get(sub.id);
    if (box?.timer) clearTimeout(box.timer);
    this.outboxes.delete(sub.id);
  }

  close(): void {
    this.closed = true;
    for (const box of this.outboxes.values()) if (box.timer) clearTimeout(box.timer);
    this.outboxes.clear();
  }

  private box(sub: Subscription): Outbox {
    let box = this.outboxes.get(sub.id);
    if (!box) this.outboxes.set(sub.id, (box = { queue: [], inFlight: false }));
    return box;
  }

  private schedule(sub: Subscription, box: Outbox, delayMs: number): void {
    if (box.timer || box.inFlight || this.closed) return;
    box.timer = setTimeout(
      () => {
        box.timer = undefined;
        void this.flush(sub, box);
      },
      Math.max(0, delayMs),
    );
    box.timer.unref();
  }

  private async flush(sub: Subscription, box: Outbox): Promise<void> {
    if (!this.alive(sub)) return;
    const now = Date.now();
    const ready = box.queue.filter((p) => p.nextAt <= now).slice(0, this.maxBatch);
    if (ready.length) {
      box.inFlight = true;
      const attempt = Math.max(...ready.map((p) => p.attempt)) + 1;
      const r = await post(
        sub.notificationUrl,
        JSON.stringify({ value: ready.map((p) => p.item) }),
        'application/json',
        this.timeoutMs,
      );
      box.inFlight = false;
      this.log({
        at: new Date().toISOString(),
        kind: 'notification',
        subscriptionId: sub.id,
        url: sub.notificationUrl,
        status: r.status,
        items: ready.length,
        attempt,
        ms: r.ms,
        error: r.error,
      });
      if (this.closed || !this.outboxes.has(sub.id)) return;
      const delivered = r.status >= 200 && r.status < 300;
      const after = Date.now();
      for (const p of ready) {
        p.attempt += 1;
        p.nextAt = after + this.retryBaseMs * 2 ** (p.attempt - 1);
        if (delivered || p.nextAt - p.firstAt > this.retryWindowMs) box.queue.splice(box.queue.indexOf(p), 1);
      }
    }
    if (box.queue.length) this.schedule(sub, box, Math.min(...box.queue.map((p) => p.nextAt)) - Date.now());
  }
}
