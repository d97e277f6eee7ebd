/**
 * Keeps one Graph change-notification subscription alive per webhook-enabled source: creates it (changeType
 * `updated` on legacy `security/alerts`, with clientState and a lifecycle URL), stores it in Redis, renews it once
 * half its lifetime has passed, and recreates it when Graph no longer knows it. Only the replica holding the
 * source's lease manages it. Polling stays on as the safety net: some providers cannot be subscribed to, and
 * notifications can be dropped.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { keysFor } from '../../pipeline/keys.js';
import { sleep } from './budget.js';
import { GraphRequestError, type GraphClient } from './client.js';
import { Lease } from './lease.js';

export interface StoredSubscription {
  id: string;
  expirationDateTime: string;
  notificationUrl: string;
  resource: string;
  created_at: string;
  renewed_at?: string;
}

export interface SubscriptionManagerOptions {
  source: string;
  tenantId: string;
  client: GraphClient;
  redis: Redis;
  prefix: string;
  /** This process's replica id (replica.ts): the lease's owner. */
  replicaId: string;
  publicUrl: string;
  clientState: string;
  resourceFilter?: string;
  expirationMinutes: number;
  /** `pipeline.takeover_ms`: how long the lease of a replica that stopped answering blocks the others. */
  takeoverMs: number;
  logger: Logger;
  /** How often the subscription is checked. @defaultValue min(60 s, a tenth of the lifetime) */
  checkEveryMs?: number;
}

export class SubscriptionManager {
  private readonly key: string;
  private readonly lease: Lease;
  private readonly log: Logger;
  private readonly abort = new AbortController();
  private loop?: Promise<void>;
  private wake?: () => void;
  private pending: Array<{ event: string; id: string }> = [];

  constructor(private readonly opts: SubscriptionManagerOptions) {
    const keys = keysFor(opts.prefix);
    this.key = keys.subscription(opts.source);
    this.lease = new Lease(opts.redis, keys.subscriptionLease(opts.source), opts.replicaId, opts.takeoverMs);
    this.log = opts.logger.child({ component: 'subscriptions', source: opts.source, tenant: opts.tenantId });
  }

  get notificationUrl(): string {
    return `${this.opts.publicUrl.replace(/\/+$/, '')}/webhooks/graph/${encodeURIComponent(this.opts.source)}`;
  }

  get resource(): string {
    return this.opts.resourceFilter ? `security/alerts?$filter=${this.opts.resourceFilter}` : 'security/alerts';
  }

  start(): void {
    this.loop = this.run();
  }

  async close(): Promise<void> {
    this.abort.abort(new Error('closing'));
    this.wake?.();
    await this.loop;
    await this.lease.release();
  }

  /** A lifecycle notification arrived: act on it at once (on the replica that holds the lease). */
  lifecycle(event: string, subscriptionId: string): void {
    this.pending.push({ event, id: subscriptionId });
    this.wake?.();
  }

  async stored(): Promise<StoredSubscription | null> {
    const raw = await this.opts.redis.get(this.key);
    return raw ? (JSON.parse(raw) as StoredSubscription) : null;
  }

  /** One pass: make sure a live subscription exists and is far from expiry. Returns it. */
  async ensure(): Promise<StoredSubscription> {
    const now = Date.now();
    const sub = await this.stored();
    const lifetimeMs = this.opts.expirationMinutes * 60_000;
    const events = this.pending.splice(0);
    if (sub) {
      const removed = events.some((e) => e.id === sub.id && e.event === 'subscriptionRemoved');
      const reauth = events.some((e) => e.id === sub.id && e.event === 'reauthorizationRequired');
      if (!removed && sub.notificationUrl === this.notificationUrl && sub.resource === this.resource) {
        if (!reauth && Date.parse(sub.expirationDateTime) - now > lifetimeMs / 2) return sub;
        try {
          if (reauth)
            await this.opts.client
              .request('POST', `/subscriptions/${sub.id}/reauthorize`, 'subscriptions')
              .catch((err: unknown) => {
                if (!(err instanceof GraphRequestError) || err.status === 404) throw err;
                this.log.warn({ err: (err as Error).message }, 'reauthorize failed; renewing instead');
              });
          return await this.renew(sub, now + lifetimeMs);
        } catch (err) {
          if (!(err instanceof GraphRequestError && err.status === 404)) throw err;
          this.log.warn({ subscription: sub.id }, 'Graph no longer knows the subscription: recreating it');
        }
      } else if (!removed) {
        // The public URL or filter changed: replace the old subscription.
        await this.opts.client.request('DELETE', `/subscriptions/${sub.id}`, 'subscriptions').catch(() => undefined);
      }
    }
    return this.create(now + lifetimeMs);
  }

  private async create(expiresAt: number): Promise<StoredSubscription> {
    const res = await this.opts.client.request<{ id: string; expirationDateTime: string }>(
      'POST',
      '/subscriptions',
      'subscriptions',
      {
        body: {
          changeType: 'updated',
          notificationUrl: this.notificationUrl,
          lifecycleNotificationUrl: `${this.notificationUrl}/lifecycle`,
          resource: this.resource,
          expirationDateTime: new Date(expiresAt).toISOString(),
          clientState: this.opts.clientState,
        },
        signal: this.abort.signal,
      },
    );
    const sub: StoredSubscription = {
      id: res.body.id,
      expirationDateTime: res.body.expirationDateTime,
      notificationUrl: this.notificationUrl,
      resource: this.resource,
      created_at: new Date().toISOString(),
    };
    await this.opts.redis.set(this.key, JSON.stringify(sub));
    this.log.info(
      { subscription: sub.id, expires: sub.expirationDateTime },
      'created the Graph change-notification subscription',
    );
    return sub;
  }

  private async renew(sub: StoredSubscription, expiresAt: number): Promise<StoredSubscription> {
    const res = await this.opts.client.request<{ expirationDateTime: string }>(
      'PATCH',
      `/subscriptions/${sub.id}`,
      'subscriptions',
      {
        body: { expirationDateTime: new Date(expiresAt).toISOString() },
        signal: this.abort.signal,
      },
    );
    const renewed = {
      ...sub,
      expirationDateTime: res.body.expirationDateTime ?? new Date(expiresAt).toISOString(),
      renewed_at: new Date().toISOString(),
    };
    await this.opts.redis.set(this.key, JSON.stringify(renewed));
    this.log.info({ subscription: sub.id, expires: renewed.expirationDateTime }, 'renewed the Graph subscription');
    return renewed;
  }

  /** Deletes the stored subscription at Graph and forgets it (`alertbridge subscriptions delete`). */
  async remove(): Promise<StoredSubscription | null> {
    const sub = await this.stored();
    if (sub) {
      await this.opts.client.request('DELETE', `/subscriptions/${sub.id}`, 'subscriptions').catch((err: unknown) => {
        if (!(err instanceof GraphRequestError && err.status === 404)) throw err;
      });
      await this.opts.redis.del(this.key);
    }
    return sub;
  }

  private async run(): Promise<void> {
    const every =
      this.opts.checkEveryMs ?? Math.min(60_000, Math.max(1000, (this.opts.expirationMinutes * 60_000) / 10));
    while (!this.abort.signal.aborted) {
      try {
        if (await this.lease.acquire().catch(() => false)) {
          try {
            await this.ensure();
          } finally {
            await this.lease.release();
          }
        }
      } catch (err) {
        if (this.abort.signal.aborted) break;
        this.log.error(
          { err: (err as Error).message },
          `managing the Graph subscription of source '${this.opts.source}' (tenant ${this.opts.tenantId}) failed; polling continues, retrying`,
        );
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        void sleep(every, this.abort.signal).then(resolve, resolve);
      });
    }
  }
}
