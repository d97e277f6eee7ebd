/**
 * `alertbridge subscriptions list|delete --source S`: the Graph change-notification subscriptions of a source —
 * what Graph reports for this app (GET /subscriptions, those pointing at this source's notification URL marked) and
 * what alertbridge stored. `delete` removes the stored one at Graph (the daemon recreates it unless
 * `webhook.enabled` is turned off).
 */
import type { Logger } from 'pino';
import { buildApp } from '../app.js';
import type { Config } from '../config/schema.js';
import { CliExit, EXIT } from './common.js';

interface GraphSubscription {
  id: string;
  resource?: string;
  notificationUrl?: string;
  expirationDateTime?: string;
  changeType?: string;
}

export async function subscriptionsCommand(
  action: 'list' | 'delete',
  config: Readonly<Config>,
  log: Logger,
  opts: { source: string; out?: (line: string) => void },
): Promise<void> {
  const out = opts.out ?? ((line: string) => process.stdout.write(line + '\n'));
  const src = config.sources.find((s) => s.name === opts.source);
  if (!src) throw new CliExit(EXIT.usage, `--source: no source named "${opts.source}" in the config`);
  if (src.type !== 'graph_security')
    throw new CliExit(
      EXIT.usage,
      `--source: "${opts.source}" is a ${src.type} source; subscriptions belong to graph_security sources`,
    );
  const app = buildApp(config, { logger: log, consume: false });
  try {
    await app.start({ listen: false });
    const source = app.source('graph_security', opts.source)!;
    const manager = source.subscriptions;
    const stored = manager ? await manager.stored() : null;
    if (action === 'list') {
      const res = await source.client.get<{ value?: GraphSubscription[] }>('/subscriptions', 'subscriptions');
      const mine = manager?.notificationUrl;
      for (const s of res.body.value ?? []) {
        out(
          JSON.stringify({
            id: s.id,
            resource: s.resource,
            notificationUrl: s.notificationUrl,
            expirationDateTime: s.expirationDateTime,
            this_source: s.notificationUrl === mine,
            managed: s.id === stored?.id,
          }),
        );
      }
      if (!manager)
        process.stderr.write(
          `source '${opts.source}' has webhook.enabled off (or no server.public_url): alertbridge manages no subscription for it\n`,
        );
    } else {
      if (!manager)
        throw new CliExit(EXIT.usage, `source '${opts.source}' has no managed subscription (webhook.enabled is off)`);
      const removed = await manager.remove();
      out(JSON.stringify({ source: opts.source, deleted: removed?.id ?? null }));
    }
  } finally {
    await app.stop();
  }
}
