/**
 * Graph change-notification subscriptions for legacy security alerts: `POST/GET/PATCH/DELETE /subscriptions`, the
 * validation handshake (Graph POSTs `?validationToken=…` and wants it echoed as text/plain within 10 s), and delivery
 * of `updated` notifications for new and changed alerts, batched several per POST, retried with exponential backoff
 * until a window closes. Expired subscriptions are deleted, as Graph does. Delivery runs on the wall clock.
 */
import { randomUUID } from 'node:crypto';
import type { Resource } from '../record/types.js';
import { acceptableNotificationUrl, post } from './deliver.js';
import { SubscriptionDelivery, type Subscription } from './subscription-delivery.js';
import type { GraphObject } from './generate.js';
import { graphError, graphHeaders, type SimRequest, type SimResponse } from './http-util.js';
import { ODataError, matches, parseFilter } from './odata.js';
import { collectionOf } from './resources.js';
import type { SimStore } from './store.js';
import type { DeliveryLogEntry, SubscriptionOptions } from './types.js';

/** Graph's maximum lifetime of a security-alert subscription. */
export const MAX_SUBSCRIPTION_MINUTES = 43_200;
const RESOURCE = /^\/?security\/alerts(?:\?\$filter=(.+))?$/i;
const LOG = { resource: 'subscriptions' };

export class SubscriptionManager {
  private readonly subs = new Map<string, Subscription>();
  private readonly delivery: SubscriptionDelivery;
  private readonly validationTimeoutMs: number;

  constructor(
    store: SimStore,
    private readonly clock: () => Date,
    opts: SubscriptionOptions,
    private readonly log: (e: DeliveryLogEntry) => void,
  ) {
    this.validationTimeoutMs = opts.validationTimeoutMs ?? 10_000;
    this.delivery = new SubscriptionDelivery(opts, log, (sub) => this.alive(sub));
    const unsubscribable = opts.unsubscribableProviders ?? [
      'Microsoft Defender ATP',
      'Office 365 Security and Compliance',
    ];
    store.onChange((tenantId, resource, obj) => {
      if (resource !== 'alerts') return;
      const provider = (obj.vendorInformation as { provider?: string } | undefined)?.provider ?? '';
      if (unsubscribable.some((p) => p.toLowerCase() === provider.toLowerCase())) return;
      for (const sub of this.subs.values()) {
        if (sub.tenantId === tenantId && this.alive(sub) && (!sub.filter || matches(sub.filter, obj)))
          this.delivery.enqueue(sub, notification(sub, obj));
      }
    });
  }

  /** `/subscriptions[/{id}[/reauthorize]]` for the app and tenant of the token. */
  async handle(req: SimRequest, tenantId: string, clientId: string, path: string[]): Promise<SimResponse> {
    const [id, action] = path;
    const mine = [...this.subs.values()].filter(
      (s) => s.tenantId === tenantId && s.applicationId === clientId && this.alive(s),
    );
    if (id === undefined) {
      if (req.method === 'GET')
        return ok(req, 200, { '@odata.context': `${req.origin}/v1.0/$metadata#subscriptions`, value: mine.map(view) });
      if (req.method === 'POST') return this.create(req, tenantId, clientId);
      return fail(req, 405, 'MethodNotAllowed', `${req.method} is not supported on subscriptions.`);
    }
    const sub = mine.find((s) => s.id === id);
    if (!sub) return fail(req, 404, 'ResourceNotFound', `Subscription '${id}' was not found.`);
    if (action === 'reauthorize' && req.method === 'POST') return { status: 204, headers: graphHeaders(req), log: LOG };
    if (action !== undefined) return fail(req, 400, 'BadRequest', `Resource not found for the segment '${action}'.`);
    if (req.method === 'GET')
      return ok(req, 200, { '@odata.context': `${req.origin}/v1.0/$metadata#subscriptions/$entity`, ...view(sub) });
    if (req.method === 'DELETE') {
      this.remove(sub);
      return { status: 204, headers: graphHeaders(req), log: LOG };
    }
    if (req.method === 'PATCH') return this.renew(req, sub);
    return fail(req, 405, 'MethodNotAllowed', `${req.method} is not supported on a subscription.`);
  }

  /** Sends a lifecycle notification; `subscriptionRemoved` also deletes the subscription. Resolves to the status. */
  async lifecycle(id: string, event: string): Promise<number> {
    const sub = this.subs.get(id);
    if (!sub) throw new RangeError(`no subscription '${id}'`);
    if (!sub.lifecycleNotificationUrl) throw new RangeError(`subscription '${id}' has no lifecycleNotificationUrl`);
    const body = JSON.stringify({
      value: [
        {
          subscriptionId: sub.id,
          subscriptionExpirationDateTime: sub.expirationDateTime,
          tenantId: sub.tenantId,
          clientState: sub.clientState,
          lifecycleEvent: event,
        },
      ],
    });
    const r = await post(sub.lifecycleNotificationUrl, body, 'application/json', 10_000);
    this.log({
      at: this.clock().toISOString(),
      kind: 'lifecycle',
      subscriptionId: id,
      url: sub.lifecycleNotificationUrl,
      status: r.status,
      items: 1,
      attempt: 1,
      ms: r.ms,
      error: r.error,
    });
    if (event === 'subscriptionRemoved') this.remove(sub);
    return r.status;
  }

  close(): void {
    this.delivery.close();
  }

  private async create(req: SimRequest, tenantId: string, clientId: string): Promise<SimResponse> {
    const body = parseBody(req);
    if (!body) return fail(req, 400, 'BadRequest', 'The request body must be a JSON object.');
    const changeType = String(body.changeType ?? '');
    if (changeType.split(',').some((c) => c.trim() !== 'updated')) {
      return fail(
        req,
        400,
        'InvalidRequest',
        `The changeType '${changeType}' is not supported for security alerts; use 'updated'.`,
      );
    }
    const resource = String(body.resource ?? '');
    const m = RESOURCE.exec(resource);
    if (!m)
      return fail(
        req,
        400,
        'InvalidRequest',
        `Resource '${resource}' is not supported by the simulator (security/alerts, optionally with ?$filter=).`,
      );
    let filter = null;
    try {
      filter = m[1] ? parseFilter(decodeURIComponent(m[1]), collectionOf('alerts' satisfies Resource).fields) : null;
    } catch (err) {
      if (err instanceof ODataError) return fail(req, 400, 'InvalidRequest', err.message);
      throw err;
    }
    if (typeof body.clientState === 'string' && body.clientState.length > 128) {
      return fail(req, 400, 'InvalidRequest', 'clientState must be at most 128 characters.');
    }
    const expiry = this.checkExpiry(req, body.expirationDateTime);
    if (typeof expiry !== 'string') return expiry;
    for (const key of ['notificationUrl', 'lifecycleNotificationUrl'] as const) {
      if (key === 'lifecycleNotificationUrl' && body[key] === undefined) continue;
      const problem = await this.validate(body[key]);
      if (problem) return fail(req, 400, 'InvalidRequest', problem);
    }
    const sub: Subscription = {
      id: randomUUID(),
      resource,
      applicationId: clientId,
      changeType: 'updated',
      clientState: typeof body.clientState === 'string' ? body.clientState : null,
      notificationUrl: String(body.notificationUrl),
      lifecycleNotificationUrl:
        typeof body.lifecycleNotificationUrl === 'string' ? body.lifecycleNotificationUrl : null,
      expirationDateTime: expiry,
      creatorId: clientId,
      latestSupportedTlsVersion:
        typeof body.latestSupportedTlsVersion === 'string' ? body.latestSupportedTlsVersion : 'v1_2',
      tenantId,
      filter,
    };
    this.subs.set(sub.id, sub);
    return ok(req, 201, { '@odata.context': `${req.origin}/v1.0/$metadata#subscriptions/$entity`, ...view(sub) });
  }

  private async renew(req: SimRequest, sub: Subscription): Promise<SimResponse> {
    const body = parseBody(req);
    if (!body) return fail(req, 400, 'BadRequest', 'The request body must be a JSON object.');
    const extra = Object.keys(body).filter((k) => k !== 'expirationDateTime' && k !== 'notificationUrl');
    if (extra.length)
      return fail(
        req,
        400,
        'InvalidRequest',
        `Only expirationDateTime and notificationUrl can be updated, not ${extra.join(', ')}.`,
      );
    const expiry =
      body.expirationDateTime === undefined ? sub.expirationDateTime : this.checkExpiry(req, body.expirationDateTime);
    if (typeof expiry !== 'string') return expiry;
    if (body.notificationUrl !== undefined) {
      const problem = await this.validate(body.notificationUrl);
      if (problem) return fail(req, 400, 'InvalidRequest', problem);
      sub.notificationUrl = String(body.notificationUrl);
    }
    sub.expirationDateTime = expiry;
    return ok(req, 200, view(sub));
  }

  /** The normalized expiry, or the 400 Graph gives for a past one or one beyond 43,200 minutes. */
  private checkExpiry(req: SimRequest, raw: unknown): string | SimResponse {
    const at = typeof raw === 'string' ? Date.parse(raw) : NaN;
    if (Number.isNaN(at))
      return fail(req, 400, 'InvalidRequest', 'expirationDateTime is required (an ISO 8601 date-time).');
    const now = this.clock().getTime();
    if (at <= now) return fail(req, 400, 'InvalidRequest', 'Subscription expiration date time must be in the future.');
    if (at > now + MAX_SUBSCRIPTION_MINUTES * 60_000) {
      return fail(
        req,
        400,
        'InvalidRequest',
        `Subscription expiration can only be ${MAX_SUBSCRIPTION_MINUTES} minutes in the future.`,
      );
    }
    return raw as string;
  }

  /** The validation handshake; returns Graph's failure message, or null when the endpoint echoed the token. */
  private async validate(url: unknown): Promise<string | null> {
    if (!acceptableNotificationUrl(url))
      return `Invalid notification URL '${String(url)}': it must be an https:// URL.`;
    const token = `Validation: Testing client application reachability for subscription Request-Id: ${randomUUID()}`;
    const target = `${String(url)}${String(url).includes('?') ? '&' : '?'}validationToken=${encodeURIComponent(token)}`;
    const r = await post(target, '', 'text/plain; charset=utf-8', this.validationTimeoutMs);
    this.log({
      at: this.clock().toISOString(),
      kind: 'validation',
      subscriptionId: null,
      url: String(url),
      status: r.status,
      items: 0,
      attempt: 1,
      ms: r.ms,
      error: r.error,
    });
    if (r.status === 0 && r.error?.startsWith('no answer')) return 'Subscription validation request timed out.';
    if (r.status !== 200)
      return 'Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.';
    if (!r.contentType.toLowerCase().startsWith('text/plain'))
      return 'Subscription validation request failed. Response must be text/plain.';
    if (r.body !== token)
      return 'Subscription validation request failed. Response must exactly match validationToken query parameter.';
    return null;
  }

  /** False (and the subscription deleted) once it has expired. */
  private alive(sub: Subscription): boolean {
    if (!this.subs.has(sub.id)) return false;
    if (Date.parse(sub.expirationDateTime) > this.clock().getTime()) return true;
    this.remove(sub);
    return false;
  }

  private remove(sub: Subscription): void {
    this.subs.delete(sub.id);
    this.delivery.drop(sub);
  }
}

function notification(sub: Subscription, alert: GraphObject): Record<string, unknown> {
  const id = String(alert.id);
  return {
    subscriptionId: sub.id,
    subscriptionExpirationDateTime: sub.expirationDateTime,
    clientState: sub.clientState,
    changeType: 'updated',
    resource: `security/alerts/${id}`,
    resourceData: { id, '@odata.type': '#Microsoft.Graph.alert', '@odata.id': `security/alerts/${id}` },
    tenantId: sub.tenantId,
  };
}

/** The subscription as Graph returns it (internal fields left out). */
function view(sub: Subscription): Record<string, unknown> {
  const { filter: _filter, tenantId: _tenantId, ...rest } = sub;
  return {
    ...rest,
    notificationContentType: 'application/json',
    includeResourceData: false,
    encryptionCertificate: null,
    encryptionCertificateId: null,
    notificationQueryOptions: null,
    notificationUrlAppId: null,
  };
}

function parseBody(req: SimRequest): Record<string, unknown> | null {
  try {
    const v = JSON.parse(req.rawBody) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function ok(req: SimRequest, status: number, body: unknown): SimResponse {
  return { status, headers: graphHeaders(req), body, log: LOG };
}

function fail(req: SimRequest, status: number, code: string, message: string): SimResponse {
  return { ...graphError(req, status, code, message), log: LOG };
}
