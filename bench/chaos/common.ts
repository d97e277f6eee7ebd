/**
 * What every chaos scenario shares: the result shape (sent, delivered, lost, duplicated), a partner that pushes
 * realistic alerts to the daemon and re-sends whatever was not acknowledged (as a real sender does), and the
 * bookkeeping that compares what was acknowledged with what reached a sink.
 */
import { Agent, fetch as undiciFetch } from 'undici';
import { normalize } from '../../src/record/normalize.js';
import type { GraphObject } from '../../src/simulator/generate.js';
import type { Runtime } from '../lib/daemon.js';
import { sleep } from '../lib/stats.js';

export interface ChaosResult {
  scenario: string;
  /** Records the daemon acknowledged (HTTP 202), or the Graph objects whose latest revision must arrive. */
  sent: number;
  /** Distinct records (`key@revision`) the sink holds among those sent. */
  delivered: number;
  /** sent − delivered: must be 0. */
  lost: number;
  /** Copies beyond the first (at-least-once delivery allows them; they are counted, not hidden). */
  duplicated: number;
  seconds: number;
  notes: string[];
  /** What else went wrong (the daemon exited, answered 5xx, delivered something nobody sent): must be empty. */
  problems: string[];
  /**
   * A run that shows what a setting does not protect (e.g. a failover without `redis.durability.replicas`): its losses
   * are reported as figures, not counted as a failure.
   */
  lossExpected?: boolean;
}

export interface ScenarioOptions {
  runtime?: Runtime;
  log?: (line: string) => void;
  seed?: number;
}

export const PUSH_TOKEN = 'chaos-push-token';

/** The identity the daemon will give a pushed alerts_v2 object. */
export function pushedIdentity(obj: GraphObject): string {
  const res = normalize('alerts_v2', obj, { source: 'push', via: 'push' });
  if (!res.ok) throw new Error(res.reason);
  return `${res.record.key}@${res.record.revision}`;
}

/**
 * A partner pushing batches to `POST /ingest/push`: one request in flight, each batch re-sent until answered 202
 * (a refused or unanswered batch is still the sender's). `port()` is read for every request, so a restarted daemon
 * on another port is followed.
 */
export class PushSender {
  /** Identities the daemon acknowledged. */
  readonly acked = new Set<string>();
  refusals = 0;
  requests = 0;
  private readonly agent = new Agent({ keepAliveTimeout: 10_000, connect: { timeout: 2000 } });

  constructor(
    private readonly port: () => number,
    private readonly perRequest = 100,
  ) {}

  /** Sends every object; `paceMs` between requests when given. Resolves once all were acknowledged. */
  async send(objs: readonly GraphObject[], opts: { perSecond?: number; stop?: () => boolean } = {}): Promise<void> {
    const t0 = Date.now();
    let sent = 0;
    for (let i = 0; i < objs.length && !opts.stop?.(); i += this.perRequest) {
      const batch = objs.slice(i, i + this.perRequest);
      if (opts.perSecond) {
        const due = t0 + (sent / opts.perSecond) * 1000;
        if (due > Date.now()) await sleep(due - Date.now());
      }
      const body = JSON.stringify(batch);
      for (;;) {
        this.requests++;
        const status = await undiciFetch(`http://127.0.0.1:${this.port()}/ingest/push`, {
          method: 'POST',
          body,
          dispatcher: this.agent,
          signal: AbortSignal.timeout(15_000),
          headers: { authorization: `Bearer ${PUSH_TOKEN}`, 'content-type': 'application/json' },
        }).then(
          async (r) => {
            await r.arrayBuffer();
            return r.status;
          },
          () => 0,
        );
        if (status === 202) break;
        this.refusals++;
        await sleep(100);
      }
      for (const obj of batch) this.acked.add(pushedIdentity(obj));
      sent += batch.length;
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** Compares what must have arrived with what did (a map of identity → copies). */
export function tally(
  scenario: string,
  expected: Iterable<string>,
  seen: ReadonlyMap<string, number>,
  seconds: number,
  notes: string[],
): ChaosResult {
  let sent = 0;
  let delivered = 0;
  let duplicated = 0;
  for (const id of expected) {
    sent++;
    const n = seen.get(id) ?? 0;
    if (n > 0) delivered++;
    if (n > 1) duplicated += n - 1;
  }
  return {
    scenario,
    sent,
    delivered,
    lost: sent - delivered,
    duplicated,
    seconds: Math.round(seconds),
    notes,
    problems: [],
  };
}

/** `push` source and the given sinks: the config the push-driven scenarios run the daemon with. */
export function pushConfig(redisUrl: string, prefix: string, sinks: string, extra = ''): string {
  return `
redis: { url: "${redisUrl}", key_prefix: "${prefix}" }
server: { listen: "127.0.0.1:\${PORT}", max_body_bytes: 8388608 }
log: { level: warn, format: json }
pipeline: { takeover_ms: 2000 }
sources:
  - { name: push, type: webhook, token: ${PUSH_TOKEN} }
${extra}
sinks:
${sinks}
`;
}

/** Retry settings of the chaos runs: enough attempts that an outage never dead-letters, backoff capped at 5 s. */
export const CHAOS_RETRY = 'retry: { max_attempts: 1000, initial_backoff_ms: 500, max_backoff_ms: 5000 }';
