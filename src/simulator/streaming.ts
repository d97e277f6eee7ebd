/**
 * The Defender XDR Streaming API, simulated: for each alerts_v2 the simulator creates, an `AlertInfo` record and its
 * `AlertEvidence` records (one per evidence item) go to an Event Hub in Microsoft's shape (`{"records": [{ time,
 * tenantId, operationName: "Publish", category: "AdvancedHunting-<Table>", properties }]}`), so the
 * `defender_streaming` source, the demo and the tests see the fast path. Events are sent in batches as they come
 * (one flush per turn of the event loop); a failed send is counted and dropped, as the service's own loss would be
 * (polling is the safety net).
 */
import type { EventHubProducerClient } from '@azure/event-hubs';
import type { GraphObject } from './generate.js';

export interface StreamingOptions {
  /** Connection string of the hub to publish to (its `EntityPath`, or `eventHubName`). */
  connectionString: string;
  eventHubName?: string;
}

export interface StreamingPublisher {
  /** Events sent and failed so far. */
  readonly stats: { sent: number; failed: number };
  publish(tenantId: string, alert: GraphObject): void;
  /** Sends what is pending, then closes the client. */
  close(): Promise<void>;
}

/** alerts_v2 `serviceSource` → the Advanced Hunting `ServiceSource` text. */
const SERVICE_SOURCES: Record<string, string> = {
  microsoftDefenderForEndpoint: 'Microsoft Defender for Endpoint',
  microsoftDefenderForIdentity: 'Microsoft Defender for Identity',
  microsoftDefenderForCloudApps: 'Microsoft Defender for Cloud Apps',
  microsoftDefenderForOffice365: 'Microsoft Defender for Office 365',
  microsoft365Defender: 'Microsoft Defender XDR',
  microsoftDefenderForCloud: 'Microsoft Defender for Cloud',
  microsoftSentinel: 'Microsoft Sentinel',
};

const capitalized = (s: unknown): string | null =>
  typeof s === 'string' && s ? s[0]!.toUpperCase() + s.slice(1) : null;

/** The AlertInfo and AlertEvidence records of one alerts_v2 object. */
export function streamingRecords(tenantId: string, alert: GraphObject, now = new Date()): unknown[] {
  const common = {
    Timestamp: String(alert.createdDateTime ?? now.toISOString()),
    AlertId: String(alert.id),
    Title: alert.title ?? null,
    ServiceSource: SERVICE_SOURCES[String(alert.serviceSource)] ?? alert.serviceSource ?? null,
    DetectionSource: capitalized(alert.detectionSource),
    AttackTechniques: JSON.stringify(Array.isArray(alert.mitreTechniques) ? alert.mitreTechniques : []),
  };
  const record = (table: string, properties: Record<string, unknown>) => ({
    time: now.toISOString(),
    tenantId,
    operationName: 'Publish',
    category: `AdvancedHunting-${table}`,
    properties,
  });
  const evidence = Array.isArray(alert.evidence) ? (alert.evidence as Array<Record<string, unknown>>) : [];
  return [
    record('AlertInfo', { ...common, Category: capitalized(alert.category), Severity: capitalized(alert.severity) }),
    ...evidence.map((e) =>
      record('AlertEvidence', {
        ...common,
        Categories: JSON.stringify(alert.category ? [capitalized(alert.category)] : []),
        EntityType: capitalized(
          String(e['@odata.type'] ?? '').replace(/^#microsoft\.graph\.security\.|Evidence$/g, ''),
        ),
        EvidenceRole: capitalized(Array.isArray(e.roles) ? e.roles[0] : undefined) ?? 'Related',
        Severity: capitalized(alert.severity),
      }),
    ),
  ];
}

export async function startStreamingPublisher(opts: StreamingOptions): Promise<StreamingPublisher> {
  const { EventHubProducerClient } = await import('@azure/event-hubs');
  const producer: EventHubProducerClient = opts.eventHubName
    ? new EventHubProducerClient(opts.connectionString, opts.eventHubName)
    : new EventHubProducerClient(opts.connectionString);
  const stats = { sent: 0, failed: 0 };
  let pending: Array<{ key: string; body: string }> = [];
  let flushing: Promise<void> = Promise.resolve();

  const flush = async (): Promise<void> => {
    const events = pending;
    pending = [];
    // One batch per partition key (the alert id), as a producer keyed by alert would send.
    const byKey = new Map<string, string[]>();
    for (const e of events) byKey.set(e.key, [...(byKey.get(e.key) ?? []), e.body]);
    for (const [partitionKey, bodies] of byKey) {
      try {
        const batch = await producer.createBatch({ partitionKey });
        for (const body of bodies) batch.tryAdd({ body: Buffer.from(body), contentType: 'application/json' });
        await producer.sendBatch(batch);
        stats.sent += bodies.length;
      } catch {
        stats.failed += bodies.length;
      }
    }
  };

  return {
    stats,
    publish(tenantId, alert) {
      const records = streamingRecords(tenantId, alert);
      const key = String(alert.id);
      // The AlertInfo record in one event, the evidence in another: the service writes a table's records together.
      pending.push({ key, body: JSON.stringify({ records: records.slice(0, 1) }) });
      if (records.length > 1) pending.push({ key, body: JSON.stringify({ records: records.slice(1) }) });
      if (pending.length <= 2) flushing = flushing.then(() => new Promise((r) => setImmediate(r))).then(flush);
    },
    async close() {
      await flushing;
      if (pending.length) await flush();
      await producer.close();
    },
  };
}
