/**
 * A `webhook` source: a partner pushes Graph-shaped alerts to `POST /ingest/{name}` (route.ts). It reads nothing
 * by itself, so it has nothing to start or stop; every push source of an app answers on the one route the shared
 * {@link PushRoutes} component mounts, which finds the source by the path's name.
 */
import type { FastifyInstance } from 'fastify';
import type { WebhookSourceConfig } from '../../config/schema.js';
import type { Source, SourceContext, SourceFactory } from '../types.js';
import { registerPushRoute } from './route.js';

export class PushRoutes implements Source {
  readonly type = 'webhook_routes';
  readonly name = 'push';
  private readonly sources: WebhookSourceConfig[] = [];

  constructor(private readonly ctx: SourceContext) {}

  /** Answers pushes for `config.name` (called before the routes are mounted). */
  add(config: WebhookSourceConfig): void {
    this.sources.push(config);
  }

  routes(server: FastifyInstance): void {
    registerPushRoute(server, {
      sources: this.sources,
      emit: (records) => this.ctx.emit(records),
      logger: this.ctx.logger,
      onRejected: (source, reason) => this.ctx.metrics.webhookRejected.inc({ source, reason }),
    });
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}
}

export class WebhookSource implements Source {
  readonly type = 'webhook';
  readonly name: string;

  constructor(readonly config: WebhookSourceConfig) {
    this.name = config.name;
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}
}

export const webhookSource: SourceFactory<WebhookSourceConfig, WebhookSource> = {
  type: 'webhook',
  create(config, ctx) {
    ctx.shared('push-routes', () => new PushRoutes(ctx)).add(config);
    return new WebhookSource(config);
  },
};
