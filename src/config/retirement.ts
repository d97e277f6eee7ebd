/**
 * Microsoft's retirement of the legacy `/security/alerts` API (and with it Graph change notifications for security
 * alerts): the migration page (`concepts/alertsv1-alertsv2-migration.md`) gives 2026-10-15, after which the endpoint
 * "will stop returning data" in the global cloud. alertbridge keeps both working — other clouds and some tenants still
 * answer — but says so when a global-cloud source asks for them.
 */
import type { Config } from './schema.js';

/** The day the legacy alerts API stops returning data in the global cloud. */
export const LEGACY_ALERTS_RETIREMENT = '2026-10-15';

/** One warning line per `graph_security` source of the global cloud that asks for legacy alerts or webhooks. */
export function retirementWarnings(config: Readonly<Config>, now: Date = new Date()): string[] {
  const retired = now.getTime() >= Date.parse(`${LEGACY_ALERTS_RETIREMENT}T00:00:00Z`);
  const out: string[] = [];
  // A source's `tenants` run as sources of their own (tenants.ts): one warning for the source as written, at its
  // index in the file.
  let i = -1;
  let group: string | undefined;
  const warned = new Set<string>();
  config.sources.forEach((source) => {
    const of = source.type === 'graph_security' ? source.tenant_of?.source : undefined;
    if (of === undefined || of !== group) i++;
    group = of;
    if (source.type !== 'graph_security' || source.cloud !== 'global') return;
    const name = of ?? source.name;
    if (warned.has(name)) return;
    const asks = [
      ...(source.resources.includes('alerts') ? ['legacy `alerts`'] : []),
      ...(source.webhook.enabled ? ['Graph webhooks (webhook.enabled)'] : []),
    ];
    if (asks.length === 0) return;
    warned.add(name);
    const when = retired
      ? `was retired on ${LEGACY_ALERTS_RETIREMENT} and stops returning data in the global cloud`
      : `is retired on ${LEGACY_ALERTS_RETIREMENT}, after which it stops returning data in the global cloud`;
    out.push(
      `warning: sources[${i}] (${name}): ${asks.join(' and ')} use Microsoft's legacy security alerts API, which ${when}. ` +
        'Use alerts_v2 and incidents (see README, "Legacy alerts retirement"); keep alerts only for clouds and tenants where it still answers.',
    );
  });
  return out;
}
