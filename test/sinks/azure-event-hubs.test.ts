/**
 * The `azure_event_hubs` sink with the real `@azure/event-hubs` client against the project's AMQP peer
 * (test/peers/eventhubs): the conformance suite, the shape of each event, partition keys, batch sizes, and how
 * refusals are classified. Each test starts its own peer (an in-process server: milliseconds).
 */
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { AlertRecord, Sink } from '../../sinks/types.js';
import { classifyEventHubsError, isAuthFailure } from '../../sinks/azure-event-hubs/wire.js';
import { classify } from '../../src/pipeline/retry.js';
import { startSimulator } from '../../src/simulator/server.js';
import { createCredential } from '../../src/entra/credential.js';
import { captureLogger } from '../helpers/graph.js';
import { freePort } from '../../src/util/redis-server.js';
import { record, records } from '../helpers/records.js';
import { simulatorLogin } from '../helpers/simulator.js';
import {
  startEventHubsPeer,
  verifySasToken,
  type EventHubsPeer,
  type EventHubsPeerOptions,
} from '../peers/eventhubs/server.js';
import { createEventHubsSink } from '../../sinks/azure-event-hubs/index.js';
import { sinkFormat } from '../../src/record/format.js';
import { silentLogger } from '../helpers/pipeline.js';
import { eventHubsConfig, eventHubsSink, ident, identOf } from '../peers/eventhubs/sink.js';
import { sinkConformance } from './conformance.js';

const tmp = mkdtempSync(join(tmpdir(), 'ab-eh-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A record `bytes` larger than usual (its Graph object carries a blob). */
const padded = (r: AlertRecord, bytes: number): AlertRecord => ({ ...r, data: { ...r.data, blob: 'x'.repeat(bytes) } });
/** Revision `rev` (0–59) of alert `i`. */
const revision = (i: number, rev: number) =>
  record(i, { updated: `2026-11-01T10:${String(rev).padStart(2, '0')}:00.0000000Z` });
const failure = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: unknown) => e as Error,
  );

sinkConformance('azure_event_hubs', {
  async healthy(name) {
    const peer = await startEventHubsPeer();
    return {
      sink: eventHubsSink(peer, { name }),
      delivered: async () => peer.received.map(identOf),
      dispose: () => peer.close(),
    };
  },
  async permanentlyFailing(name) {
    // A name no event hub can have: the put-token on $cbs is answered 400 (ArgumentError). (A refused key or a hub
    // that does not exist pauses the sink instead.)
    const peer = await startEventHubsPeer();
    const sink = eventHubsSink(peer, { name, connection_string: peer.connectionString('bad-name-') });
    return { sink, delivered: async () => peer.received.map(identOf), dispose: () => peer.close() };
  },
  async retryablyFailing(name) {
    // The hub is throttling: every delivery is rejected with com.microsoft:server-busy.
    const peer = await startEventHubsPeer({ serverBusy: true });
    return {
      sink: eventHubsSink(peer, { name }),
      delivered: async () => peer.received.map(identOf),
      dispose: () => peer.close(),
    };
  },
  async refusingCredentials(name) {
    // A key the hub refuses, in connection_string_file; the operator rotates the Secret to the right one.
    const peer = await startEventHubsPeer();
    const file = join(tmp, `conformance-${Date.now()}`);
    writeFileSync(file, peer.connectionString(undefined, { key: 'b2xkLWtleQ==' }) + '\n');
    const sink = eventHubsSink(peer, {
      name,
      connection_string: undefined,
      connection_string_file: file,
      auth_pause_ms: 100,
    });
    return {
      sink,
      delivered: async () => peer.received.map(identOf),
      dispose: () => peer.close(),
      fixCredentials: () => writeFileSync(file, peer.connectionString() + '\n'),
    };
  },
});

describe('azure_event_hubs sink', () => {
  const open: Array<{ sink: Sink; peer?: EventHubsPeer }> = [];
  afterEach(async () => {
    for (const { sink, peer } of open.splice(0)) {
      await sink.close();
      await peer?.close();
    }
  });
  const setup = async (peerOpts: EventHubsPeerOptions = {}, config: Parameters<typeof eventHubsSink>[1] = {}) => {
    const peer = await startEventHubsPeer(peerOpts);
    const sink = eventHubsSink(peer, config);
    open.push({ sink, peer });
    await sink.start();
    return { peer, sink };
  };

  it('sends each record as an event: JSON body, partition key = key, message id, the five properties', async () => {
    const { peer, sink } = await setup();
    const batch = records(3);
    expect(await sink.send(batch)).toBeUndefined();
    expect(peer.received).toHaveLength(3);
    peer.received.forEach((e, i) => {
      const r = batch[i]!;
      expect(JSON.parse(e.body!.toString('utf8'))).toEqual(r);
      expect(e).toMatchObject({
        hub: 'alerts',
        partitionKey: r.key,
        messageId: `${r.key}@${r.revision}`,
        contentType: 'application/json',
      });
      expect(e.properties).toEqual({
        'alertbridge-key': r.key,
        'alertbridge-revision': r.revision,
        'alertbridge-resource': r.resource,
        'alertbridge-provider': r.provider,
        'alertbridge-tenant': r.tenant_id,
      });
    });
  });

  it('keeps every revision of an alert on one partition, in order, and uses every partition', async () => {
    const { peer, sink } = await setup({ hubs: { alerts: 4 } });
    const batch = [0, 1, 2].flatMap((rev) => Array.from({ length: 40 }, (_, i) => revision(i, rev)));
    await sink.send(batch);
    const byKey = new Map<string, typeof peer.received>();
    for (const e of peer.received) byKey.set(e.partitionKey!, [...(byKey.get(e.partitionKey!) ?? []), e]);
    expect(byKey.size).toBe(40);
    for (const [key, events] of byKey) {
      expect(new Set(events.map((e) => e.partition)).size, key).toBe(1);
      expect(events.map((e) => e.properties['alertbridge-revision'])).toEqual(
        [0, 1, 2].map((rev) => revision(0, rev).revision),
      );
    }
    expect(new Set(peer.received.map((e) => e.partition)).size).toBe(4);
    // One batch per partition key: the three revisions of an alert travel together.
    expect(peer.batches).toHaveLength(40);
  });

  it('sends the batches of one key in order: after one is refused, the later ones wait, so a resend keeps revisions in order', async () => {
    // 12 revisions of alert 1 at ~40 KB, 2 per 100 KB batch: 6 batches of one key. The first is refused (the SDK's
    // own retry too) until the hub recovers.
    let busy = true;
    const first = padded(revision(1, 0), 40_000);
    const { peer, sink } = await setup(
      {
        serverBusyWhen: (e) =>
          busy && e.partitionKey === first.key && e.properties['alertbridge-revision'] === first.revision,
      },
      { max_batch_bytes: 100_000 },
    );
    const batch = [...Array.from({ length: 12 }, (_, rev) => padded(revision(1, rev), 40_000)), ...records(5, {}, 10)];
    const res = await sink.send(batch);
    expect(peer.stats.busy).toBeGreaterThan(0);
    const failed = res?.failed.map((f) => f.index) ?? [];
    expect(failed).toEqual(Array.from({ length: 12 }, (_, i) => i)); // all of alert 1: the refused batch and those after it
    expect(res!.failed.every((f) => classify(f.error) === 'retryable')).toBe(true);
    expect(res!.failed[11]!.error.message).toMatch(
      /^not sent to azure_event_hubs 'eventhubs': an earlier batch of partition key .* failed \(.*\[ServerBusyError\]\)$/,
    );
    expect(peer.received.filter((e) => e.partitionKey === first.key)).toEqual([]);
    busy = false;
    expect(await sink.send(failed.map((i) => batch[i]!))).toBeUndefined(); // what the pipeline does next
    const revisions = peer.received
      .filter((e) => e.partitionKey === first.key)
      .map((e) => e.properties['alertbridge-revision']);
    expect(revisions).toEqual(batch.slice(0, 12).map((r) => r.revision));
    expect(new Set(peer.received.map(identOf))).toEqual(new Set(batch.map(ident)));
  });

  it('uses a sha256 message id when key@revision is longer than the 128 characters Event Hubs allows', async () => {
    const { peer, sink } = await setup();
    const long = { ...record(1), key: `t/alerts_v2/provider/${'i'.repeat(120)}` };
    await sink.send([long]);
    expect(peer.received[0]!.messageId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(peer.received[0]!.partitionKey).toBe(long.key);
  });

  it('never sends a batch above max_batch_bytes (262144, the Basic tier), starting new batches as they fill', async () => {
    const { peer, sink } = await setup({}, { max_batch_bytes: 262_144 });
    // 30 revisions of 2 alerts, ~40 KB each: 1.2 MB per partition key.
    const batch = Array.from({ length: 30 }, (_, rev) => [
      padded(revision(1, rev), 40_000),
      padded(revision(2, rev), 40_000),
    ]).flat();
    expect(await sink.send(batch)).toBeUndefined();
    expect(peer.received.map(identOf)).toHaveLength(60);
    expect(new Set(peer.received.map(identOf))).toEqual(new Set(batch.map(ident)));
    expect(Math.max(...peer.batches.map((b) => b.bytes))).toBeLessThanOrEqual(262_144);
    expect(Math.max(...peer.batches.map((b) => b.count))).toBeGreaterThan(1);
    expect(peer.batches.length).toBeGreaterThanOrEqual(10);
  });

  it("keeps to the link's max-message-size when it is below max_batch_bytes", async () => {
    const { peer, sink } = await setup({ maxMessageBytes: 262_144 }); // a Basic namespace, max_batch_bytes left at 1 MB
    const batch = Array.from({ length: 20 }, (_, rev) => padded(revision(1, rev), 40_000));
    await sink.send(batch);
    expect(peer.received).toHaveLength(20);
    expect(Math.max(...peer.batches.map((b) => b.bytes))).toBeLessThanOrEqual(262_144);
  });

  it('fails only a record too large for an empty batch, permanently; the rest goes', async () => {
    const { peer, sink } = await setup({}, { max_batch_bytes: 262_144 });
    const batch = records(10);
    batch[4] = padded(batch[4]!, 300_000);
    const res = await sink.send(batch);
    expect(res?.failed.map((f) => f.index)).toEqual([4]);
    expect(classify(res!.failed[0]!.error)).toBe('permanent');
    expect(res!.failed[0]!.error.message).toMatch(
      new RegExp(`^record ${batch[4]!.key} \\(revision .*\\) does not fit an empty Event Hubs batch of 262144 bytes`),
    );
    expect(peer.received.map(identOf)).toEqual(batch.filter((_, i) => i !== 4).map(ident));
  });

  it('sends smaller batches once the hub refuses one as too large (amqp:link:message-size-exceeded)', async () => {
    // The link says 1 MB, the hub takes 200 KB: a batch above is refused; its records retry in smaller batches.
    const { peer, sink } = await setup({ rejectAboveBytes: 200_000 });
    const batch = Array.from({ length: 10 }, (_, rev) => padded(revision(1, rev), 40_000));
    const err = await failure(sink.send(batch));
    expect(classify(err)).toBe('retryable');
    expect(err!.message).toMatch(/exceeds the limit \(200000 bytes\).*\[MessageTooLargeError\]$/);
    expect(peer.stats.tooLarge).toBe(1);
    expect(await sink.send(batch)).toBeUndefined();
    expect(peer.stats.tooLarge).toBe(1);
    expect(peer.received).toHaveLength(10);
    expect(Math.max(...peer.batches.map((b) => b.bytes))).toBeLessThanOrEqual(200_000);
  });

  it('dead-letters a single event the hub refuses as too large', async () => {
    const { peer, sink } = await setup({ rejectAboveBytes: 20_000 });
    const batch = [record(1), padded(record(2), 30_000)];
    const res = await sink.send(batch);
    expect(res?.failed.map((f) => [f.index, classify(f.error)])).toEqual([[1, 'permanent']]);
    expect(res!.failed[0]!.error.message).toMatch(/\[MessageTooLargeError\]$/);
    expect(peer.received.map(identOf)).toEqual([ident(batch[0]!)]);
  });

  it('pauses on an unknown event hub (retryable after auth_pause_ms, not ready, says which hub, logged once) and resumes once it exists', async () => {
    const peer = await startEventHubsPeer();
    const { logger, lines } = captureLogger();
    const sink = eventHubsSink(peer, { connection_string: peer.connectionString('later'), auth_pause_ms: 300 }, logger);
    open.push({ sink, peer });
    for (let i = 0; i < 2; i++) {
      const err = await failure(sink.send(records(2)));
      expect(classify(err)).toBe('retryable');
      expect(err).toMatchObject({ retryAfterMs: 300 });
      expect(err!.message).toBe(
        "connecting azure_event_hubs sink 'eventhubs' to its hub: event hub later does not exist [MessagingEntityNotFoundError]; sink paused until the event hub exists",
      );
      expect(sink.ready()).toBe(false);
      expect(sink.notReadyReason()).toBe('event hub later does not exist');
    }
    expect(
      lines.filter(
        (l) =>
          l.level === 50 &&
          String(l.msg).startsWith("azure_event_hubs 'eventhubs' paused: event hub later does not exist"),
      ),
    ).toHaveLength(1);

    peer.createHub('later', 2);
    expect(await sink.send(records(2))).toBeUndefined();
    expect(sink.ready()).toBe(true);
    expect(sink.notReadyReason()).toBeUndefined();
    expect(peer.received.map((e) => e.hub)).toEqual(['later', 'later']);
    expect(
      lines.some((l) => l.level === 30 && l.msg === "azure_event_hubs 'eventhubs' resumed: its event hub exists"),
    ).toBe(true);
  });

  it('classifies a name no event hub can have as permanent (ArgumentError)', async () => {
    const peer = await startEventHubsPeer();
    const sink = eventHubsSink(peer, { connection_string: peer.connectionString('bad-name-') });
    open.push({ sink, peer });
    const err = await failure(sink.send(records(2)));
    expect(classify(err)).toBe('permanent');
    expect(err!.message).toMatch(/not a valid event hub name.*\[ArgumentError\]$/);
    expect(sink.ready()).toBe(true);
  });

  it('pauses on a wrong key (UnauthorizedError): retryable after auth_pause_ms, ready() false, one error log without the key', async () => {
    const peer = await startEventHubsPeer();
    const { logger, lines } = captureLogger();
    const sink = eventHubsSink(
      peer,
      { connection_string: peer.connectionString(undefined, { key: 'd3Jvbmc=' }), auth_pause_ms: 300 },
      logger,
    );
    open.push({ sink, peer });
    expect(sink.ready()).toBe(true);
    for (let i = 0; i < 2; i++) {
      const err = await failure(sink.send(records(2)));
      expect(classify(err)).toBe('retryable');
      expect(err).toMatchObject({ retryAfterMs: 300 });
      expect(err!.message).toMatch(
        /^connecting azure_event_hubs sink 'eventhubs' to its hub: .*InvalidSignature.*\[UnauthorizedError\]; sink paused until the credentials are fixed$/,
      );
    }
    expect(sink.ready()).toBe(false);
    expect(peer.stats.tokensRefused).toBeGreaterThanOrEqual(2); // each attempt asks the hub again, with a fresh client
    expect(peer.received).toHaveLength(0);
    expect(
      lines.filter((l) => l.level === 50 && String(l.msg).startsWith("azure_event_hubs 'eventhubs' paused")),
    ).toHaveLength(1);
    expect(JSON.stringify(lines)).not.toContain('d3Jvbmc=');
  });

  it('classifies a namespace nothing listens on as retryable, quickly', async () => {
    const port = await freePort();
    const sink = eventHubsSink(undefined, {
      connection_string: `Endpoint=sb://127.0.0.1:${port};SharedAccessKeyName=k;SharedAccessKey=a2V5;UseDevelopmentEmulator=true;EntityPath=alerts`,
    });
    open.push({ sink });
    const t0 = Date.now();
    const err = await failure(sink.send(records(2)));
    expect(classify(err)).toBe('retryable');
    expect(err!.message).toMatch(/ECONNREFUSED/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('classifies server busy as retryable, and delivers once the hub recovers', async () => {
    const { peer, sink } = await setup({ serverBusy: true });
    const batch = records(5);
    const err = await failure(sink.send(batch));
    expect(classify(err)).toBe('retryable');
    expect(err!.message).toMatch(/\[ServerBusyError\]$/);
    peer.setFaults({ serverBusy: false });
    expect(await sink.send(batch)).toBeUndefined();
    expect(peer.received.map(identOf)).toEqual(batch.map(ident));
  });

  it('reports exactly what the hub refused: with half the deliveries busy, the failed records are those not stored', async () => {
    const { peer, sink } = await setup({ serverBusyRate: 0.5, seed: 3 });
    const batch = records(300);
    const res = await sink.send(batch);
    const failed = new Set(res?.failed.map((f) => ident(batch[f.index]!)));
    const stored = peer.received.map(identOf);
    expect(peer.stats.busy).toBeGreaterThan(50);
    expect(failed.size).toBeGreaterThan(0);
    expect(new Set(stored).size).toBe(stored.length);
    expect(stored.filter((id) => failed.has(id))).toEqual([]);
    expect(new Set([...stored, ...failed])).toEqual(new Set(batch.map(ident)));
    expect(res!.failed.every((f) => classify(f.error) === 'retryable')).toBe(true);
  });

  it('reconnects after the connection is cut', async () => {
    const { peer, sink } = await setup();
    await sink.send(records(5));
    peer.dropConnections();
    await new Promise((r) => setTimeout(r, 50));
    const second = records(5, {}, 5);
    // The SDK's one retry rides out the cut; at worst the pipeline would retry the whole batch.
    const res = await sink
      .send(second)
      .catch((e: unknown) => (classify(e) === 'retryable' ? sink.send(second) : Promise.reject(e)));
    expect(res).toBeUndefined();
    expect(new Set(peer.received.map(identOf))).toEqual(new Set([...records(5), ...second].map(ident)));
    expect(peer.stats.connections).toBe(2);
  });

  it('reads connection_string_file again after the key is refused (a rotated Secret needs no restart)', async () => {
    const peer = await startEventHubsPeer();
    const file = join(tmp, 'eh-connection-string');
    writeFileSync(file, peer.connectionString(undefined, { key: 'b2xkLWtleQ==' }) + '\n');
    const sink = eventHubsSink(peer, { connection_string: undefined, connection_string_file: file });
    open.push({ sink, peer });
    await sink.start();
    expect(classify(await failure(sink.send(records(1))))).toBe('retryable');
    expect(sink.ready()).toBe(false);
    writeFileSync(file, peer.connectionString() + '\n');
    expect(await sink.send(records(1))).toBeUndefined();
    expect(sink.ready()).toBe(true);
    expect(peer.received).toHaveLength(1);
  });

  it('holds the records when connection_string_file vanishes mid-rotation (the value read at start stands in), never dead-letters them', async () => {
    const peer = await startEventHubsPeer();
    const file = join(tmp, 'eh-connection-string-rotating');
    const old = peer.connectionString(undefined, { key: 'b2xkLWtleQ==' });
    writeFileSync(file, old + '\n');
    // As the loader hands it over: the file's content read at start, and the file to read again.
    const sink = eventHubsSink(peer, { connection_string: old, connection_string_file: file });
    open.push({ sink, peer });
    expect(classify(await failure(sink.send(records(1))))).toBe('retryable'); // the old key is refused: paused
    rmSync(file); // the Secret is being replaced
    const err = await failure(sink.send(records(1)));
    expect(classify(err)).toBe('retryable');
    expect(err!.message).toMatch(/\[UnauthorizedError\]; sink paused until the credentials are fixed$/);
    writeFileSync(file, peer.connectionString() + '\n');
    expect(await sink.send(records(1))).toBeUndefined();
    expect(peer.received).toHaveLength(1);
  });

  it('refuses a connection string the SDK cannot use at start, permanently, without quoting the key', async () => {
    // The config loader refuses this one (no EntityPath, no event_hub_name); the sink holds its own line too.
    const valid = eventHubsConfig({
      name: 'eventhubs',
      connection_string: 'Endpoint=sb://127.0.0.1:1;SharedAccessKeyName=k;SharedAccessKey=c2VjcmV0;EntityPath=h',
    });
    const sink = createEventHubsSink({
      config: {
        ...valid,
        connection_string: 'Endpoint=sb://127.0.0.1:1;SharedAccessKeyName=k;SharedAccessKey=c2VjcmV0',
        event_hub_name: '',
      },
      logger: silentLogger,
      ...sinkFormat('envelope'),
    });
    open.push({ sink });
    const err = await failure(sink.start());
    expect(classify(err)).toBe('permanent');
    expect(err!.message).toMatch(
      /^azure_event_hubs sink 'eventhubs': cannot use its connection settings: .*EntityPath/,
    );
    expect(err!.message).not.toContain('c2VjcmV0');
  });

  it('refuses to send after close (retryable: the records stay queued)', async () => {
    const { sink } = await setup();
    await sink.close();
    await expect(sink.send(records(1))).rejects.toMatchObject({ name: 'RetryableError' });
  });
});

describe('azure_event_hubs sink: Entra ID refusals', () => {
  it('takes Entra ID refusing the app (a real @azure/identity error) for refused credentials, and Entra being down for an outage', async () => {
    const app = { tenantId: 'dddddddd-0000-4000-8000-000000000004', clientId: 'eh-app', clientSecret: 'right' };
    const sim = await startSimulator({ tenants: [app], seed: 1 });
    try {
      const login = simulatorLogin(sim, app);
      const refused = await createCredential({ ...login, client_secret: 'wrong' })
        .getToken('https://eventhubs.azure.net/.default')
        .catch((e: unknown) => e);
      expect(isAuthFailure(refused)).toBe(true);
      expect(classify(classifyEventHubsError(refused, 'connecting'))).toBe('permanent');
      // An unknown tenant looks like an unreachable authority to MSAL (endpoints_resolution_error): retried too.
      const port = await freePort();
      const down = await createCredential({
        ...login,
        authority_url: `https://127.0.0.1:${port}`,
        client_secret: 'right',
      })
        .getToken('https://eventhubs.azure.net/.default')
        .catch((e: unknown) => e);
      expect(isAuthFailure(down)).toBe(false);
    } finally {
      await sim.close();
    }
  });
});

describe('Event Hubs peer: SAS tokens', () => {
  const keys = { send: 'c2VjcmV0' };
  const token = (sr: string, key: string, se: number) => {
    const resource = encodeURIComponent(sr);
    const sig = encodeURIComponent(createHmac('sha256', key).update(`${resource}\n${se}`).digest('base64'));
    return `SharedAccessSignature sr=${resource}&sig=${sig}&se=${se}&skn=send`;
  };
  const future = Math.floor(Date.now() / 1000) + 3600;

  it('accepts a well-signed token and reports the resource it covers', () => {
    expect(verifySasToken(token('sb://ns.example/Alerts', 'c2VjcmV0', future), keys)).toMatchObject({
      ok: true,
      resource: '/alerts',
    });
  });

  it('refuses a bad signature, an expired token and an unknown key name', () => {
    expect(verifySasToken(token('sb://ns.example/alerts', 'other', future), keys)).toMatchObject({
      ok: false,
      reason: /InvalidSignature/,
    });
    expect(verifySasToken(token('sb://ns.example/alerts', 'c2VjcmV0', 1000), keys)).toMatchObject({
      ok: false,
      reason: /ExpiredToken/,
    });
    expect(
      verifySasToken(token('sb://ns.example/alerts', 'c2VjcmV0', future).replace('skn=send', 'skn=listen'), keys),
    ).toMatchObject({ ok: false, reason: /unknown SharedAccessKeyName/ });
  });
});
