/**
 * Secrets that would cross a network unencrypted: a Splunk HEC token over `http://`, Kafka SASL credentials
 * without `tls.enabled`, an Event Hubs key over the emulator's plain AMQP (`UseDevelopmentEmulator=true`), the Redis
 * password over `redis://`, each to a host other than this machine. One list, read twice: the schema refuses
 * them when `security.require_tls` is true (so `alertbridge validate` says so too), and the app logs each one as a
 * warning at start otherwise. Works on a configuration before and after defaults (a missing key means its default).
 */
import { isRecord } from './fields.js';

export interface PlaintextSecret {
  /** Where the setting that makes it plaintext sits (`sinks[0].url`), for the validation error. */
  path: Array<string | number>;
  /** `splunk_hec sink 'splunk'`, `redis`. */
  component: string;
  /** The host(s) it goes to. */
  host: string;
  /** Sentence: what is sent unencrypted, to where, and the fix. */
  message: string;
}

/** This machine: what a secret reaches without crossing a network. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

const hostOfUrl = (url: string): string | undefined => {
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
};
/** `host:port` or `[v6]:port` → host. */
const hostOfHostPort = (value: string): string => value.replace(/:\d+$/, '');
const has = (o: Record<string, unknown>, key: string) => o[key] !== undefined || o[`${key}_file`] !== undefined;

export function plaintextSecrets(config: unknown): PlaintextSecret[] {
  if (!isRecord(config)) return [];
  const found: PlaintextSecret[] = [];
  const add = (path: PlaintextSecret['path'], component: string, host: string, what: string, fix: string) =>
    found.push({ path, component, host, message: `${component} sends ${what} unencrypted to ${host}: ${fix}` });

  const redis = isRecord(config.redis) ? config.redis : {};
  const sentinel = isRecord(redis.sentinel) ? redis.sentinel : undefined;
  const cluster = isRecord(redis.cluster) ? redis.cluster : undefined;
  if (cluster) {
    const remote = [
      ...new Set(
        (Array.isArray(cluster.nodes) ? cluster.nodes : [])
          .filter((n): n is string => typeof n === 'string')
          .map(hostOfHostPort)
          .filter((h) => !isLoopbackHost(h)),
      ),
    ];
    if (cluster.tls !== true && remote.length > 0 && has(redis, 'password')) {
      add(['redis', 'cluster', 'tls'], 'redis', remote.join(', '), 'the Redis password', 'set redis.cluster.tls: true');
    }
  } else if (sentinel) {
    const remote = [
      ...new Set(
        (Array.isArray(sentinel.nodes) ? sentinel.nodes : [])
          .filter((n): n is string => typeof n === 'string')
          .map(hostOfHostPort)
          .filter((h) => !isLoopbackHost(h)),
      ),
    ];
    if (sentinel.tls !== true && remote.length > 0 && (has(redis, 'password') || has(sentinel, 'password'))) {
      add(
        ['redis', 'sentinel', 'tls'],
        'redis',
        remote.join(', '),
        'the Redis password',
        'set redis.sentinel.tls: true',
      );
    }
  } else if (typeof redis.url === 'string' && redis.url.startsWith('redis://')) {
    const host = hostOfUrl(redis.url);
    let inUrl = false;
    try {
      inUrl = new URL(redis.url).password !== '';
    } catch {
      // the schema reports the URL
    }
    if (host !== undefined && !isLoopbackHost(host) && (has(redis, 'password') || inUrl)) {
      add(['redis', 'url'], 'redis', host, 'the Redis password', 'use a rediss:// url');
    }
  }

  (Array.isArray(config.sinks) ? config.sinks : []).forEach((sink: unknown, i) => {
    if (!isRecord(sink)) return;
    const component = `${String(sink.type)} sink '${String(sink.name)}'`;
    if (
      sink.type === 'splunk_hec' &&
      typeof sink.url === 'string' &&
      sink.url.startsWith('http://') &&
      has(sink, 'token')
    ) {
      const host = hostOfUrl(sink.url);
      if (host !== undefined && !isLoopbackHost(host))
        add(['sinks', i, 'url'], component, host, 'the HEC token', 'use an https:// url');
    }
    if (sink.type === 'kafka' && isRecord(sink.sasl)) {
      const tls = isRecord(sink.tls) ? sink.tls : {};
      const hosts = (Array.isArray(sink.brokers) ? sink.brokers : [])
        .filter((b): b is string => typeof b === 'string')
        .map(hostOfHostPort);
      const remote = [...new Set(hosts.filter((h) => !isLoopbackHost(h)))];
      if (tls.enabled !== true && remote.length > 0) {
        add(
          ['sinks', i, 'tls', 'enabled'],
          component,
          remote.join(', '),
          `its SASL ${String(sink.sasl.mechanism)} credentials`,
          'set tls.enabled: true',
        );
      }
    }
    if (sink.type === 'azure_event_hubs') emulatorKey(sink, ['sinks', i, 'connection_string'], component);
  });
  // The Defender streaming source reads an Event Hub with the same client, and the same connection strings.
  (Array.isArray(config.sources) ? config.sources : []).forEach((source: unknown, i) => {
    if (isRecord(source) && source.type === 'defender_streaming')
      emulatorKey(source, ['sources', i, 'connection_string'], `defender_streaming source '${String(source.name)}'`);
  });
  return found;

  function emulatorKey(entry: Record<string, unknown>, path: Array<string | number>, component: string): void {
    if (typeof entry.connection_string !== 'string') return;
    const cs = entry.connection_string;
    const endpoint = /(?:^|;)\s*Endpoint\s*=\s*([^;]+)/i.exec(cs)?.[1]?.trim();
    const host = endpoint === undefined ? undefined : hostOfUrl(endpoint);
    if (
      /(?:^|;)\s*UseDevelopmentEmulator\s*=\s*true\s*(?:;|$)/i.test(cs) &&
      host !== undefined &&
      !isLoopbackHost(host)
    ) {
      add(
        path,
        component,
        host,
        'its shared access key (as SAS tokens, over plain AMQP: UseDevelopmentEmulator=true)',
        'remove UseDevelopmentEmulator outside a local emulator',
      );
    }
  }
}
