/**
 * The CONTRACT.md metrics. One registry per app (not prom-client's global one), so tests can run several apps in
 * one process. Gauges that reflect Redis state (queue depth, dead letters) are read from Redis (by the pipeline, in
 * the background, at most every few seconds), so every replica reports the same shared truth.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly ingested = new Counter({
    name: 'alertbridge_records_ingested_total',
    help: 'Records received from sources, before dedup',
    labelNames: ['source', 'resource', 'via'] as const,
    registers: [this.registry],
  });
  readonly duplicates = new Counter({
    name: 'alertbridge_records_duplicate_total',
    help: 'Records dropped by dedup: a revision already delivered, or older than the one delivered',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });
  readonly delivered = new Counter({
    name: 'alertbridge_records_delivered_total',
    help: 'Records acknowledged by a sink',
    labelNames: ['sink'] as const,
    registers: [this.registry],
  });
  readonly deliveryErrors = new Counter({
    name: 'alertbridge_delivery_errors_total',
    help: 'Records whose delivery attempt failed, by kind: retryable (retried later), permanent (dead-lettered), bug (a programming error; retried), exhausted (out of attempts; dead-lettered)',
    labelNames: ['sink', 'kind'] as const,
    registers: [this.registry],
  });
  readonly deadLettered = new Counter({
    name: 'alertbridge_dead_lettered_total',
    help: 'Records this process moved to a dead-letter queue',
    labelNames: ['sink'] as const,
    registers: [this.registry],
  });
  readonly deadLetterFull = new Counter({
    name: 'alertbridge_dead_letter_full_total',
    help: 'Times a dead letter could not be written because the queue held dead_letter.max_entries (records stay queued)',
    labelNames: ['sink'] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'alertbridge_delivery_latency_seconds',
    help: 'Time from ingest to sink acknowledgement',
    labelNames: ['sink'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly graphRequests = new Counter({
    name: 'alertbridge_graph_requests_total',
    help: 'Requests to Microsoft Graph by HTTP status code',
    labelNames: ['source', 'resource', 'code'] as const,
    registers: [this.registry],
  });
  readonly graphThrottled = new Counter({
    name: 'alertbridge_graph_throttled_total',
    help: 'Graph responses 429/503/504 (throttled or unavailable)',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });
  readonly graphPartial = new Counter({
    name: 'alertbridge_graph_partial_total',
    help: 'Graph answers 206 Partial Content, by the provider that failed (one per provider named in a Warning header)',
    labelNames: ['source', 'resource', 'provider'] as const,
    registers: [this.registry],
  });
  readonly graphUntrustedLinks = new Counter({
    name: 'alertbridge_graph_untrusted_link_total',
    help: 'Links (@odata.nextLink) refused because they lead outside graph_url/v1.0/: another scheme, host, port or API version; the window stopped there and the access token was not sent',
    labelNames: ['source', 'resource'] as const,
    registers: [this.registry],
  });
  readonly graphPagingOverflow = new Counter({
    name: 'alertbridge_graph_paging_overflow_total',
    help: 'Times a poll met at least 1,500 legacy alerts of one provider with one lastModifiedDateTime: Graph paging ($skip ≤ 500, $top ≤ 1000) reaches no further, any beyond were skipped',
    labelNames: ['source', 'resource', 'provider'] as const,
    registers: [this.registry],
  });
  readonly graphWindowIncomplete = new Counter({
    name: 'alertbridge_graph_window_incomplete_total',
    help: 'Times an alerts_v2 or incidents window could not be read completely (Graph counted more objects than its paging returned, e.g. over 1,000 alerts with one lastUpdateDateTime); logged as an error with the window',
    labelNames: ['source', 'resource'] as const,
    registers: [this.registry],
  });
  readonly graphFutureItems = new Counter({
    name: 'alertbridge_graph_future_items_total',
    help: 'Objects read with an update time further in the future than the source allows (future_skew_ms): delivered, but they do not move the watermark',
    labelNames: ['source', 'resource'] as const,
    registers: [this.registry],
  });
  readonly graphMalformedItems = new Counter({
    name: 'alertbridge_graph_malformed_items_total',
    help: 'Items of Graph list pages that were not JSON objects (null, strings, lists): skipped',
    labelNames: ['source', 'resource'] as const,
    registers: [this.registry],
  });
  readonly graphLegacySilent = new Gauge({
    name: 'alertbridge_graph_legacy_silent',
    help: 'Legacy alerts (retired 2026-10-15 in the global cloud): 1 when the source has read nothing for a day, else 0',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });
  readonly pollLag = new Gauge({
    name: 'alertbridge_poll_lag_seconds',
    help: 'Age of the newest record a poller has seen (now minus its watermark)',
    labelNames: ['source', 'resource'] as const,
    registers: [this.registry],
  });
  readonly pollStuck = new Gauge({
    name: 'alertbridge_poll_stuck_seconds',
    help: "How long every poll of the window has failed, once that is longer than the source's stuck_window_alert_ms (0 otherwise): the cursor is held and nothing newer is read",
    labelNames: ['source', 'resource'] as const,
    registers: [this.registry],
  });
  readonly webhookNotifications = new Counter({
    name: 'alertbridge_webhook_notifications_total',
    help: 'Graph change notifications persisted for fetching',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });
  readonly webhookRejected = new Counter({
    name: 'alertbridge_webhook_rejected_total',
    help: 'Notification items or pushes refused, by reason: client_state (forged), invalid, auth; future_revision (a pushed item whose update time is beyond future_skew_ms, one per item)',
    labelNames: ['source', 'reason'] as const,
    registers: [this.registry],
  });
  readonly webhookDropped = new Counter({
    name: 'alertbridge_webhook_dropped_total',
    help: 'Notified alerts given up on without a record, by reason: http_{status} (a 4xx Graph answer a retry will not change, e.g. http_404 gone, http_403 no permission), expired (still failing after the maximum age), unknown_source; polling is the safety net',
    labelNames: ['source', 'reason'] as const,
    registers: [this.registry],
  });
  readonly streamingSkipped = new Counter({
    name: 'alertbridge_streaming_skipped_total',
    help: 'Defender streaming events or records skipped, by reason: oversized, malformed_body, malformed_record, unknown_category, table_not_allowed, unknown_tenant (no graph_security source has its tenant_id)',
    labelNames: ['source', 'reason'] as const,
    registers: [this.registry],
  });
  readonly streamingTriggers = new Counter({
    name: 'alertbridge_streaming_triggers_total',
    help: 'Alerts the Defender stream mentioned, by outcome: queued (a Graph read was queued), coalesced (a read of it was already waiting), polled (part of a burst: the tenant was asked to poll alerts_v2 now instead)',
    labelNames: ['source', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly streamingReady = new Gauge({
    name: 'alertbridge_streaming_ready',
    help: 'Defender streaming source: 1 while its Event Hub accepts its credential, 0 while the hub refuses it (a wrong or revoked SAS key, an Entra token refused; /readyz says why)',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });
  readonly syncChanges = new Counter({
    name: 'alertbridge_sync_changes_total',
    help: 'Write-back changes finished, by outcome: applied (written to Graph), noop (nothing to change), conflict (the object moved past expected_revision), failed (dead-lettered)',
    labelNames: ['source', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly syncRejected = new Counter({
    name: 'alertbridge_sync_rejected_total',
    help: 'Write-back requests refused before queueing, by reason: auth (401), invalid (400)',
    labelNames: ['source', 'reason'] as const,
    registers: [this.registry],
  });
  readonly sinkReady = new Gauge({
    name: 'alertbridge_sink_ready',
    help: '1 when the sink is started and not paused',
    labelNames: ['sink'] as const,
    registers: [this.registry],
  });

  /** More `alertbridge_queue_depth` series read at scrape time, besides the pipeline's (write-back: `sync:{source}`). */
  private readonly depthReaders: Array<() => Promise<Record<string, number>>> = [];

  addQueueDepthReader(read: () => Promise<Record<string, number>>): void {
    this.depthReaders.push(read);
  }

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'alertbridge_' });
  }

  /** Registers gauges whose values are read (asynchronously) at scrape time. */
  addAsyncGauges(readers: {
    queueDepth: () => Promise<Record<string, number>>;
    deadLetters: () => Promise<Record<string, number>>;
  }): void {
    const extra = this.depthReaders;
    new Gauge({
      name: 'alertbridge_queue_depth',
      help: 'Batches waiting: `inbox` entries (accepted, not yet fanned out) and `sink:{name}` jobs (queued, delayed or in flight); `sync:{source}` write-back changes not yet finished',
      labelNames: ['queue'] as const,
      registers: [this.registry],
      async collect() {
        const all = await Promise.all([
          readers.queueDepth(),
          ...extra.map((read) => read().catch(() => ({}) as Record<string, number>)),
        ]);
        for (const depths of all) for (const [queue, value] of Object.entries(depths)) this.set({ queue }, value);
      },
    });
    new Gauge({
      name: 'alertbridge_dead_letters',
      help: 'Entries in each sink dead-letter queue',
      labelNames: ['sink'] as const,
      registers: [this.registry],
      async collect() {
        const counts = await readers.deadLetters();
        for (const [sink, value] of Object.entries(counts)) this.set({ sink }, value);
      },
    });
  }
}
