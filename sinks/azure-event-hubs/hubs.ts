/**
 * The producer clients of an `azure_event_hubs` sink, one per hub, in least-recently-used order: one for a fixed
 * hub; with a template (`{tenant}-alerts`), one per hub named, at most `max_hub_clients`. A client holds an AMQP
 * connection, so a template naming many hubs must not keep one open per hub forever: the least recently used idle
 * one is closed to make room. A client a delivery is using is never evicted under it (`use`).
 */
import type { EventHubProducerClient } from '@azure/event-hubs';

/** One hub's client. */
export interface Hub {
  /** Undefined: the connection string's EntityPath. */
  name: string | undefined;
  producer?: EventHubProducerClient;
  /** min(max_batch_bytes, the link's max-message-size, what the hub refused): learned once per client. */
  limit?: Promise<number>;
  /** Deliveries using it now: an idle client only is evicted. */
  busy: number;
}

export class Hubs {
  private readonly hubs = new Map<string, Hub>();
  /** Closes of evicted clients, awaited by `close`. */
  private retired: Promise<unknown> = Promise.resolve();

  /** @param max `max_hub_clients`. */
  constructor(private readonly max: number) {}

  /** The client of a hub, made the most recently used; idle clients beyond `max_hub_clients` are closed. */
  get(name: string | undefined): Hub {
    const key = name ?? '';
    const h = this.hubs.get(key) ?? { name, busy: 0 };
    this.hubs.delete(key);
    this.hubs.set(key, h);
    for (const [k, old] of this.hubs) {
      if (this.hubs.size <= this.max) break;
      if (old === h || old.busy > 0) continue;
      this.hubs.delete(k);
      const c = old.producer;
      old.producer = undefined;
      if (c) this.retired = Promise.all([this.retired, c.close().catch(() => undefined)]);
    }
    return h;
  }

  /** Marks a hub's client busy while `work` runs, so that it is not evicted under it. */
  async use<T>(h: Hub, work: () => Promise<T>): Promise<T> {
    h.busy++;
    try {
      return await work();
    } finally {
      h.busy--;
    }
  }

  /** Closes every client (a failure goes to `onError`), and waits for those evicted earlier. */
  async close(onError: (err: unknown) => void): Promise<void> {
    const clients = [...this.hubs.values()].flatMap((h) => (h.producer ? [h.producer] : []));
    this.hubs.clear();
    await Promise.all(clients.map((c) => c.close().catch(onError)));
    await this.retired;
  }
}

/**
 * After a refused key or a lapsed claim: a fresh client next time, which authenticates again and reads the
 * connection string (file) again. Only if `old` is still the hub's client (a concurrent delivery may have replaced it).
 */
export function reset(h: Hub, old: EventHubProducerClient | undefined): void {
  if (!old || h.producer !== old) return;
  h.producer = undefined;
  h.limit = undefined;
  old.close().catch(() => undefined);
}
