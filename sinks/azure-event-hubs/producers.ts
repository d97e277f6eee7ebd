/**
 * Building the `azure_event_hubs` sink's producer clients and learning how much one batch may carry: the
 * credential (connection string, re-read from its file for each new client, or Entra ID for a namespace), the
 * transport (AMQP, or WebSocket through the sink's proxy), the SDK's retry knobs, and the batch limit —
 * min(`max_batch_bytes`, the link's max-message-size, what the hub refused as too large).
 */
import { EventHubProducerClient } from '@azure/event-hubs';
import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import {
  createCredential,
  httpDispatcher,
  PermanentError,
  readSecretFile,
  redactUrlsIn,
  withSystemRoots,
} from '../kit.js';
import type { EventHubsSinkConfig } from './config.js';
import type { Hub } from './hubs.js';
import { proxiedWebSocket } from './websocket.js';

/** Knobs of the SDK that are not config keys: tests shorten the timings and trust a local CA. */
export interface EventHubsTuning {
  /** Timeout of one SDK operation. */
  request_timeout_ms?: number;
  /** Wait before the SDK's single retry. */
  retry_delay_ms?: number;
  /** Extra CAs trusted for the namespace on the WebSocket transport. */
  tls_ca?: string[];
}

const TUNING = { request_timeout_ms: 60_000, retry_delay_ms: 1000 } as const;

/** What the sink is built from: its config section (defaults applied by config.ts) and the SDK's knobs. */
export type EventHubsSinkOptions = EventHubsSinkConfig & EventHubsTuning;

export class Producers {
  private readonly tuning: EventHubsSinkOptions & { request_timeout_ms: number; retry_delay_ms: number };
  private dispatcher: Dispatcher | undefined;
  /** The size of a batch the hub refused as too large, though within its link's limit: batches stay below it. */
  private refusedAbove = Infinity;

  constructor(
    private readonly config: EventHubsSinkOptions,
    private readonly logger: Logger,
  ) {
    this.tuning = { ...TUNING, ...config };
  }

  /** The sink's HTTP side: its WebSocket and, with `proxy_url`, its Entra ID token requests. */
  private sharedDispatcher(): Dispatcher {
    return (this.dispatcher ??= httpDispatcher({
      proxyUrl: this.config.proxy_url,
      ...(this.config.tls_ca ? { ca: withSystemRoots(...this.config.tls_ca) } : {}),
    }));
  }

  /**
   * `connection_string_file` as it is now; undefined when it cannot be read at this moment (a Secret being swapped):
   * then the value the loader read at start stands in, and a refusal of it pauses the sink — never a dead letter.
   */
  private freshConnectionString(): string | undefined {
    return (
      readSecretFile(this.config.connection_string_file, (err) =>
        this.logger.warn(
          { file: this.config.connection_string_file, err: err.message },
          'cannot read connection_string_file; using the connection string read at start',
        ),
      )?.trim() || undefined
    );
  }

  /** Builds the client (no I/O). A connection string the SDK cannot parse is a permanent configuration error. */
  client(h: Hub): EventHubProducerClient {
    if (h.producer) return h.producer;
    const { config, tuning } = this;
    const hub = h.name;
    // The pipeline retries with backoff and counts; the SDK's one retry only rides out a dropped link.
    const webSocket =
      config.transport === 'websocket' ? proxiedWebSocket(this.sharedDispatcher(), !!config.proxy_url) : undefined;
    const options = {
      retryOptions: {
        maxRetries: 1,
        retryDelayInMs: tuning.retry_delay_ms,
        timeoutInMs: tuning.request_timeout_ms,
      },
      userAgent: 'alertbridge',
      ...(webSocket ? { webSocketOptions: webSocket } : {}),
    };
    try {
      if (config.fully_qualified_namespace) {
        // The schema inferred `auth` and filled `authority_url` for a namespace.
        const login = { ...config, auth: config.auth!, authority_url: config.authority_url! };
        // With proxy_url the token requests take the proxy too, as a Graph source's do; else the SDK's own client
        // (HTTPS_PROXY / NO_PROXY).
        const credential = createCredential(login, config.proxy_url ? this.sharedDispatcher() : undefined);
        return (h.producer = new EventHubProducerClient(
          config.fully_qualified_namespace,
          hub ?? '',
          credential,
          options,
        ));
      }
      const cs = this.freshConnectionString() ?? config.connection_string ?? '';
      return (h.producer = hub
        ? new EventHubProducerClient(cs, hub, options)
        : new EventHubProducerClient(cs, options));
    } catch (err) {
      // The SDK quotes the whole connection string in some of these messages: keep the key out of logs and dead letters.
      const reason = redactUrlsIn(
        (err as Error).message.replace(/(SharedAccessKey|SharedAccessSignature)=[^;"]*/gi, '$1=***'),
      );
      throw new PermanentError(`azure_event_hubs sink '${config.name}': cannot use its connection settings: ${reason}`);
    }
  }

  /** Opens the sender link (CBS auth included) and learns its max-message-size. */
  batchLimit(h: Hub, c: EventHubProducerClient): Promise<number> {
    const configuredMax = this.config.max_batch_bytes;
    h.limit ??= c.createBatch().then((b) => {
      if (configuredMax > b.maxSizeInBytes)
        this.logger.warn(
          { max_batch_bytes: configuredMax, link_max: b.maxSizeInBytes },
          "max_batch_bytes is above what the hub accepts; using the hub's limit",
        );
      return Math.min(configuredMax, b.maxSizeInBytes);
    });
    const mine = h.limit;
    mine.catch(() => (h.limit === mine ? (h.limit = undefined) : undefined));
    return mine.then((n) => Math.min(n, this.refusedAbove));
  }

  /**
   * The hub refused a batch of `size` bytes as too large (it takes less than its link advertises): from now on
   * batches stay at the limit the service names in its refusal (`named`, "exceeds the limit (N bytes)") when that
   * is below the size, else at half the refused size.
   */
  refusedAt(size: number, named: number): void {
    this.refusedAbove = Math.min(this.refusedAbove, named > 0 && named < size ? named : Math.floor(size / 2));
  }

  /** Releases the HTTP dispatcher (after the clients are closed). */
  async close(): Promise<void> {
    await this.dispatcher?.close().catch(() => undefined);
  }
}
