/**
 * Graph change notifications as one component shared by every `graph_security` source with `webhook.enabled` (and
 * by the Defender streaming source, whose triggers go through the same stream and worker): the
 * routes (`/webhooks/graph/{source}` and `…/lifecycle`, notifications.ts) persist what Graph sends to one stream,
 * and one worker (notification-worker.ts) on its own blocking connection fetches the alerts, with the client of
 * the source each entry names. One stream and one worker per replica, however many tenants notify.
 */
import type { FastifyInstance } from 'fastify';
import type { Source, SourceCheck, SourceContext } from '../types.js';
import { registerNotificationRoutes, type NotificationSource } from './notifications.js';
import { NotificationWorker } from './notification-worker.js';
import type { GraphClient } from './client.js';
import { graphClientRegistry } from './client-registry.js';

/** A source whose notifications the component receives: its routes' checks, and the client its alerts are fetched with. */
export interface NotifyingSource extends NotificationSource {
  client: GraphClient;
}

export class GraphNotifications implements Source {
  readonly type = 'graph_notifications';
  readonly name = 'notifications';
  private readonly routed: NotificationSource[] = [];
  private readonly clients = new Map<string, { client: GraphClient; tenantId: string }>();
  private readonly streamKey: string;
  private readonly worker: NotificationWorker;
  private started = false;

  constructor(private readonly ctx: SourceContext) {
    this.streamKey = ctx.keys.notifications;
    const registry = graphClientRegistry(ctx);
    this.worker = new NotificationWorker({
      redis: ctx.connect('notifications'),
      streamKey: this.streamKey,
      // Entries of notifying sources, and of any graph_security source the Defender stream names (client-registry.ts).
      clients: { get: (name) => this.clients.get(name) ?? registry.byName.get(name) },
      emit: (records) => ctx.emit(records),
      logger: ctx.logger,
      metrics: ctx.metrics,
      takeoverMs: ctx.takeoverMs,
      replicaId: ctx.replicaId,
    });
  }

  /** The stream alert fetches are queued on (the Defender streaming source adds its triggers there). */
  get stream(): string {
    return this.streamKey;
  }

  /** Receives and fetches the notifications of `source` (called before the routes are mounted). */
  add({ client, ...source }: NotifyingSource): void {
    this.routed.push(source);
    this.clients.set(source.name, { client, tenantId: source.tenantId });
  }

  routes(server: FastifyInstance): void {
    registerNotificationRoutes(server, {
      sources: this.routed,
      redis: this.ctx.redis,
      streamKey: this.streamKey,
      metrics: this.ctx.metrics,
      logger: this.ctx.logger,
    });
  }

  async start(): Promise<void> {
    await this.worker.start();
    this.started = true;
  }

  async stop(): Promise<void> {
    await this.worker.close();
  }

  readiness(): Record<string, SourceCheck> {
    return this.started ? { notifications: this.worker.status() } : {};
  }
}

/** The one notification component of an app, created by the first source that needs it. */
export function graphNotifications(ctx: SourceContext): GraphNotifications {
  return ctx.shared('graph-notifications', () => new GraphNotifications(ctx));
}
