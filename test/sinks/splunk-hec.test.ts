import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { classify } from '../../src/pipeline/retry.js';
import type { SplunkHecSink } from '../../sinks/splunk-hec/index.js';
import { record, records } from '../helpers/records.js';
import { waitFor } from '../helpers/wait.js';
import { makeTestCertificates } from '../peers/hec/certs.js';
import { startHecPeer, type HecPeer, type HecPeerOptions } from '../peers/hec/server.js';
import { sinkConformance } from './conformance.js';
import { TOKEN, capturingLogger, hecSink, ident, identOf } from '../peers/hec/sink.js';

sinkConformance('splunk_hec', {
  async healthy(name) {
    const peer = await startHecPeer({ ackDelayMs: 5 });
    return {
      sink: hecSink(peer, { name, ack: { enabled: true, poll_interval_ms: 10, timeout_ms: 10_000 } }),
      delivered: async () => peer.indexed.map(identOf),
      dispose: () => peer.close(),
    };
  },
  async permanentlyFailing(name) {
    // An index the token may not write to: every event is refused with code 7 "Incorrect index".
    const peer = await startHecPeer({ indexes: ['main'] });
    return {
      sink: hecSink(peer, { name, index: 'no_such_index' }),
      delivered: async () => peer.indexed.map(identOf),
      dispose: () => peer.close(),
    };
  },
  async retryablyFailing(name) {
    const peer = await startHecPeer({ busyRate: 1 });
    return {
      sink: hecSink(peer, { name }),
      delivered: async () => peer.indexed.map(identOf),
      dispose: () => peer.close(),
    };
  },
  async refusingCredentials(name) {
    const peer = await startHecPeer({ disabledTokens: [TOKEN], tokens: [] });
    return {
      sink: hecSink(peer, { name, auth_pause_ms: 100 }),
      delivered: async () => peer.indexed.map(identOf),
      dispose: () => peer.close(),
      fixCredentials: () => peer.setFaults({ disabledTokens: [], tokens: [TOKEN] }),
    };
  },
});

describe('splunk_hec sink', () => {
  const peers: HecPeer[] = [];
  const sinks: SplunkHecSink[] = [];
  afterEach(async () => {
    for (const s of sinks.splice(0)) await s.close();
    for (const p of peers.splice(0)) await p.close();
  });
  const setup = async (peerOpts: HecPeerOptions = {}, sinkOpts: Parameters<typeof hecSink>[1] = {}) => {
    const peer = await startHecPeer(peerOpts);
    peers.push(peer);
    const sink = hecSink(peer, sinkOpts);
    sinks.push(sink);
    await sink.start();
    return { peer, sink };
  };

  it('sends the contract event format with the token and a channel', async () => {
    const { peer, sink } = await setup(
      { ack: false },
      { sourcetype: 'ms:graph', host: 'collector-1', index: 'security' },
    );
    const r = record(1, { source: 'contoso' });
    expect(await sink.send([r])).toBeUndefined();
    expect(peer.indexed).toHaveLength(1);
    const e = peer.indexed[0]!.event;
    expect(e).toEqual({
      time: Date.parse(r.updated_at!) / 1000,
      host: 'collector-1',
      source: 'alertbridge:contoso',
      sourcetype: 'ms:graph',
      index: 'security',
      event: r,
      fields: { tenant_id: r.tenant_id, provider: r.provider, resource: 'alerts_v2' },
    });
    expect(peer.requests[0]).toMatchObject({ path: '/services/collector/event', status: 200, gzip: false });
    expect(peer.requests[0]!.channel).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('omits index when unset, takes source from config, falls back to ingested_at for time', async () => {
    const { peer, sink } = await setup({ ack: false }, { source: 'graph' });
    const r = { ...record(2), updated_at: null };
    await sink.send([r]);
    const e = peer.indexed[0]!.event;
    expect('index' in e).toBe(false);
    expect(e.source).toBe('graph');
    expect(e.sourcetype).toBe('alertbridge:record');
    expect(e.time).toBe(Date.parse(r.ingested_at) / 1000);
  });

  it('splits a batch into requests by max_events and max_bytes', async () => {
    const { peer, sink } = await setup({ ack: false }, { max_events: 10 });
    await sink.send(records(25));
    expect(peer.requests.map((q) => q.events)).toEqual([10, 10, 5]);

    // Seven events of the same size, and room for three (plus their two separators) per request.
    const batch = records(7, {}, 100);
    const one = Math.max(
      ...batch.map((r) => {
        const e = { ...peer.indexed[0]!.event, event: r };
        return Buffer.byteLength(JSON.stringify(e));
      }),
    );
    const bySize = await setup({ ack: false }, { max_bytes: one * 3 + 2 });
    await bySize.sink.send(batch);
    expect(bySize.peer.requests.map((q) => q.events)).toEqual([3, 3, 1]);
    expect(bySize.peer.indexed.map(identOf)).toEqual(batch.map(ident));
  });

  it('fails an event larger than max_bytes alone, without sending it', async () => {
    const { peer, sink } = await setup({ ack: false }, { max_bytes: 4096 });
    const batch = records(3);
    batch[1] = { ...batch[1]!, data: { ...batch[1]!.data, blob: 'x'.repeat(5000) } };
    const res = await sink.send(batch);
    expect(res?.failed).toHaveLength(1);
    expect(res!.failed[0]!.index).toBe(1);
    expect(classify(res!.failed[0]!.error)).toBe('permanent');
    expect(res!.failed[0]!.error.message).toMatch(/exceeds max_bytes \(4096\)/);
    expect(peer.indexed.map(identOf)).toEqual([ident(batch[0]!), ident(batch[2]!)]);
  });

  it('on 413, halves the request until it fits; an event too large on its own fails alone', async () => {
    const { peer, sink } = await setup({ ack: false, maxContentLength: 3000 });
    const batch = records(40);
    batch[17] = { ...batch[17]!, data: { ...batch[17]!.data, blob: 'y'.repeat(4000) } };
    const res = await sink.send(batch);
    expect(res?.failed.map((f) => f.index)).toEqual([17]);
    expect(classify(res!.failed[0]!.error)).toBe('permanent');
    expect(res!.failed[0]!.error.message).toContain('too large');
    expect(peer.requests.some((q) => q.status === 413)).toBe(true);
    expect(peer.requests.filter((q) => q.status === 200).every((q) => q.bytes <= 3000)).toBe(true);
    const expected = batch.filter((_, i) => i !== 17).map(ident);
    expect(peer.indexed.map(identOf).sort()).toEqual(expected.sort());
  });

  it('on code 6, fails only the invalid event; those before it are indexed, those after are retryable', async () => {
    const bad = record(7);
    const { peer, sink } = await setup({ ack: false, invalidEvent: (e) => (e.event as { id?: string }).id === bad.id });
    const batch = records(12);
    const res = await sink.send(batch);
    const failed = new Map(res!.failed.map((f) => [f.index, f.error]));
    expect(classify(failed.get(7))).toBe('permanent');
    expect(failed.get(7)!.message).toContain('Invalid data format');
    expect([...failed.keys()].sort((a, b) => a - b)).toEqual([7, 8, 9, 10, 11]);
    for (const i of [8, 9, 10, 11]) expect(classify(failed.get(i))).toBe('retryable');
    expect(peer.indexed.map(identOf)).toEqual(batch.slice(0, 7).map(ident));
  });

  it('with acks on, code 6 leaves the events before the invalid one unacknowledged: they are resent, not counted', async () => {
    const bad = record(4);
    const { logger, lines } = capturingLogger();
    const { peer, sink } = await setup(
      { ackDelayMs: 0, invalidEvent: (e) => (e.event as { id?: string }).id === bad.id },
      { logger, max_events: 6, ack: { enabled: true, poll_interval_ms: 5 } },
    );
    const batch = records(12); // two requests: 0-5 (event 4 refused), 6-11
    const res = await sink.send(batch);
    // HEC indexed 0-3 but gave no ackId for them: nothing confirms they reached an indexer
    expect(peer.indexed.slice(0, 4).map(identOf)).toEqual(batch.slice(0, 4).map(ident));
    expect(peer.indexed.slice(0, 4).some((e) => peer.acknowledged(e))).toBe(false);
    const failed = new Map(res!.failed.map((f) => [f.index, f.error]));
    expect([...failed.keys()].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(classify(failed.get(4))).toBe('permanent');
    for (const i of [0, 1, 2, 3, 5]) expect(classify(failed.get(i))).toBe('retryable');
    expect(failed.get(0)!.message).toContain(
      'indexed without an acknowledgement (HEC refused event 4 of the same request)',
    );
    expect(lines.find((l) => l.level === 40 && /resending them/.test(l.msg))).toMatchObject({ records: 4 });
    // the second request was acknowledged and counts as delivered
    expect(peer.indexed.slice(4).map(identOf)).toEqual(batch.slice(6).map(ident));
    expect(peer.indexed.slice(4).every((e) => peer.acknowledged(e))).toBe(true);
  });

  it('on a 400 that names no event, halves only that request until the offender stands alone', async () => {
    const bad = record(6);
    const { peer, sink } = await setup(
      { ackDelayMs: 0, proxyRefusal: (e) => (e.event as { id?: string }).id === bad.id },
      { max_events: 4, ack: { enabled: true, poll_interval_ms: 5 } },
    );
    const batch = records(12); // requests 0-3, 4-7 (refused: holds 6), 8-11
    const res = await sink.send(batch);
    expect(res?.failed.map((f) => f.index)).toEqual([6]);
    expect(classify(res!.failed[0]!.error)).toBe('permanent');
    expect(res!.failed[0]!.error.message).toMatch(
      /^sending batch to splunk_hec 'hec': request refused: 400 .*400 Bad Request/,
    );
    // every other record indexed and acknowledged once; the requests that went through were not resent
    expect(peer.indexed.map(identOf).sort()).toEqual(
      batch
        .filter((_, i) => i !== 6)
        .map(ident)
        .sort(),
    );
    expect(peer.indexed.every((e) => peer.acknowledged(e))).toBe(true);
    const sent = peer.requests.filter((q) => q.path === '/services/collector/event');
    expect(sent.map((q) => [q.events, q.status])).toEqual([
      [4, 200],
      [4, 400],
      [2, 200],
      [2, 400],
      [1, 400],
      [1, 200],
      [4, 200],
    ]);
  });

  it('when every event is refused that way, reports each record (already isolated) rather than a whole-batch error', async () => {
    const { peer, sink } = await setup({ ack: false, proxyRefusal: () => true }, { max_events: 2 });
    const res = await sink.send(records(3));
    // isolated by the sink already: a thrown error would make the pipeline bisect and resend them all again
    expect(res?.failed.map((f) => [f.index, classify(f.error)])).toEqual([
      [0, 'permanent'],
      [1, 'permanent'],
      [2, 'permanent'],
    ]);
    expect(peer.indexed).toHaveLength(0);
  });

  it('compresses with gzip when asked', async () => {
    const { peer, sink } = await setup({}, { gzip: true, ack: { enabled: true, poll_interval_ms: 5 } });
    const batch = records(50);
    expect(await sink.send(batch)).toBeUndefined();
    const events = peer.requests.filter((q) => q.path === '/services/collector/event');
    expect(events.every((q) => q.gzip)).toBe(true);
    const raw = Buffer.byteLength(batch.map((r) => JSON.stringify(r)).join(''));
    expect(events[0]!.bytes).toBeLessThan(raw / 3);
    expect(peer.indexed.map(identOf)).toEqual(batch.map(ident));
  });

  it('resolves only once the indexers acknowledge every request (ackId 0 included)', async () => {
    const { peer, sink } = await setup(
      { ackDelayMs: 3_600_000 },
      { max_events: 5, ack: { enabled: true, poll_interval_ms: 10 } },
    );
    const batch = records(12);
    let settled = false;
    const sent = sink.send(batch).finally(() => {
      settled = true;
    });
    await waitFor(() => peer.requests.filter((q) => q.path === '/services/collector/ack').length >= 3, {
      what: 'ack polling',
    });
    expect(settled).toBe(false);
    expect(peer.indexed.map((e) => e.ackId)).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2]);
    peer.setFaults({ ackDelayMs: 0 }); // the indexers catch up
    expect(await sent).toBeUndefined();
    expect(peer.indexed.every((e) => peer.acknowledged(e))).toBe(true);
  });

  it('resends only the requests whose ack never came, and logs their ackIds', async () => {
    const { logger, lines } = capturingLogger();
    const { peer, sink } = await setup(
      { ackLossRate: 1 },
      { logger, ack: { enabled: true, poll_interval_ms: 10, timeout_ms: 100 } },
    );
    const err = await sink.send(records(3)).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(classify(err)).toBe('retryable');
    expect(err!.message).toMatch(/ack timed out after 100 ms \(ackIds 0\)/);
    expect(lines.find((l) => l.level === 40 && /ack timed out/.test(l.msg))).toMatchObject({ ackIds: [0], records: 3 });

    peer.setFaults({ ackLossRate: 0 });
    const mixed = await setup(
      { seed: 7 },
      { max_events: 2, ack: { enabled: true, poll_interval_ms: 10, timeout_ms: 100 } },
    );
    mixed.peer.setFaults({ ackLossRate: 0.5 });
    const batch = records(10);
    const res = await mixed.sink.send(batch);
    const lost = new Set(mixed.peer.indexed.filter((e) => e.ackLost).map(identOf));
    expect(lost.size).toBeGreaterThan(0);
    expect(lost.size).toBeLessThan(10);
    expect(new Set(res!.failed.map((f) => ident(batch[f.index]!)))).toEqual(lost);
  });

  it("with acks on, a 2xx without an ackId (a proxy's HTML page) is retryable, and logged every time", async () => {
    const { logger, lines } = capturingLogger();
    const { peer, sink } = await setup({ proxyHtmlOk: true }, { logger, ack: { enabled: true, poll_interval_ms: 5 } });
    for (const first of [0, 3]) {
      const err = await sink.send(records(3, {}, first)).then(
        () => null,
        (e: unknown) => e as Error,
      );
      expect(classify(err)).toBe('retryable');
      expect(err!.message).toMatch(/answered 200 without an ackId, .*not HEC/);
    }
    expect(peer.indexed).toHaveLength(0);
    expect(lines.filter((l) => l.level >= 50 && /without an ackId/.test(l.msg))).toHaveLength(2);
    peer.setFaults({ proxyHtmlOk: false }); // the proxy lets requests through again
    expect(await sink.send(records(3))).toBeUndefined();
    expect(peer.indexed.every((e) => peer.acknowledged(e))).toBe(true);
  });

  it("with acks on but acknowledgement off on the token, HEC's 200 without an ackId is retryable, and logged every time", async () => {
    const { logger, lines } = capturingLogger();
    const { sink } = await setup({ ack: false }, { logger, ack: { enabled: true, poll_interval_ms: 5 } });
    for (const first of [0, 3]) {
      const err = await sink.send(records(3, {}, first)).then(
        () => null,
        (e: unknown) => e as Error,
      );
      expect(classify(err)).toBe('retryable');
      expect(err!.message).toMatch(/answered 200 without an ackId, .*acknowledgement off on the token/);
    }
    expect(lines.filter((l) => l.level >= 50 && /without an ackId/.test(l.msg))).toHaveLength(2);
  });

  it('close() stops waiting for acks: the unacknowledged records stay retryable', async () => {
    const { sink } = await setup({ ackDelayMs: 60_000 }, { ack: { enabled: true, poll_interval_ms: 10 } });
    const pending = sink.send(records(4)).then(
      () => null,
      (e: unknown) => e as Error,
    );
    await new Promise((r) => setTimeout(r, 50));
    await sink.close();
    const err = await pending;
    expect(classify(err)).toBe('retryable');
    expect(err!.message).toContain('sink closed before the indexers acknowledged');
    await expect(sink.send(records(1))).rejects.toThrow(/is closed/);
  });

  it('classifies 503 "Server is busy" as retryable, honouring Retry-After', async () => {
    const { sink } = await setup({ busyRate: 1, busyRetryAfter: '7' });
    const err = await sink.send(records(2)).then(
      () => null,
      (e: unknown) => e as Error & { retryAfterMs?: number },
    );
    expect(classify(err)).toBe('retryable');
    expect(err!.retryAfterMs).toBe(7000);
    expect(err!.message).toContain('Server is busy (code 9)');
  });

  /** Lets the pause period pass, so that the next delivery probes HEC (a wait, not an assertion on time). */
  const nextProbe = (pauseMs: number) => new Promise((r) => setTimeout(r, pauseMs + 30));
  const outcome = (p: Promise<unknown>) =>
    p.then(
      () => null,
      (e: unknown) => e as Error & { retryAfterMs?: number },
    );
  const eventRequests = (peer: HecPeer) => peer.requests.filter((q) => q.path === '/services/collector/event').length;

  it('pauses on a disabled or invalid token (retryable, ready() false, logged once) and resumes', async () => {
    const { logger, lines } = capturingLogger();
    const { peer, sink } = await setup({ disabledTokens: [TOKEN], tokens: [] }, { logger, auth_pause_ms: 100 });
    expect(sink.ready()).toBe(true);
    for (const expected of ['Token disabled (code 1)', 'Token disabled (code 1)']) {
      const err = await outcome(sink.send(records(2)));
      expect(classify(err)).toBe('retryable');
      expect(err!.retryAfterMs).toBe(100);
      expect(err!.message).toContain(expected);
      await nextProbe(100);
    }
    expect(sink.ready()).toBe(false);
    expect(lines.filter((l) => l.level === 50)).toHaveLength(1);
    peer.setFaults({ disabledTokens: [], tokens: ['another'] });
    expect((await outcome(sink.send(records(1))))!.message).toContain('Invalid token (code 4)');
    peer.setFaults({ tokens: [TOKEN] });
    await nextProbe(100);
    expect(await sink.send(records(2))).toBeUndefined();
    expect(sink.ready()).toBe(true);
    expect(lines.filter((l) => /resumed/.test(l.msg))).toHaveLength(1);
    expect(peer.indexed).toHaveLength(2);
    expect(JSON.stringify(lines)).not.toContain(TOKEN); // the token itself is never logged
  });

  it('while paused, asks HEC once per auth_pause_ms for all deliveries; the others wait without a request', async () => {
    const { peer, sink } = await setup({ disabledTokens: [TOKEN], tokens: [] }, { auth_pause_ms: 100 });
    expect((await outcome(sink.send(records(2))))!.message).toContain('Token disabled');
    expect(eventRequests(peer)).toBe(1);

    // the same period: no request at all, each told when HEC is asked again
    const held = await Promise.all(Array.from({ length: 5 }, () => outcome(sink.send(records(1)))));
    for (const err of held) {
      expect(classify(err)).toBe('retryable');
      expect(err!.message).toMatch(/sink paused \(HEC refused the token\); HEC is asked again in \d+ ms/);
      expect(err!.retryAfterMs).toBeGreaterThan(0);
      expect(err!.retryAfterMs).toBeLessThanOrEqual(100);
    }
    expect(eventRequests(peer)).toBe(1);

    // the next period: five deliveries at once make one probe; the other four wait for its verdict
    await nextProbe(100);
    const again = await Promise.all(Array.from({ length: 5 }, () => outcome(sink.send(records(1)))));
    expect(eventRequests(peer)).toBe(2);
    expect(again.filter((e) => /Token disabled/.test(e!.message))).toHaveLength(1);
    expect(again.filter((e) => /sink paused \(HEC refused/.test(e!.message))).toHaveLength(4);

    // fixed: the probe goes through and the four that waited for it deliver at once
    peer.setFaults({ disabledTokens: [], tokens: [TOKEN] });
    await nextProbe(100);
    const batches = Array.from({ length: 5 }, (_, i) => records(1, {}, 100 + i));
    expect(await Promise.all(batches.map((b) => sink.send(b)))).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(eventRequests(peer)).toBe(2 + 5);
    expect(sink.ready()).toBe(true);
    expect(peer.indexed.map(identOf).sort()).toEqual(batches.flat().map(ident).sort());
  });

  it('re-reads token_file while paused, so a rotated token needs no restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ab-hec-'));
    try {
      const file = join(dir, 'token');
      writeFileSync(file, 'old-token\n');
      const { peer, sink } = await setup(
        {},
        { token: 'old-token', token_file: file, auth_pause_ms: 100, ack: { enabled: true, poll_interval_ms: 5 } },
      );
      peer.setFaults({ tokens: ['new-token'], disabledTokens: ['old-token'] });
      await expect(sink.send(records(1))).rejects.toThrow(/Token disabled/);
      expect(sink.ready()).toBe(false);
      writeFileSync(file, 'new-token\n');
      await nextProbe(100);
      expect(await sink.send(records(1))).toBeUndefined();
      expect(sink.ready()).toBe(true);
      expect(peer.indexed).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('classifies an unreachable HEC as retryable', async () => {
    const { peer, sink } = await setup();
    await peer.close();
    peers.splice(0);
    const err = await sink.send(records(1)).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(classify(err)).toBe('retryable');
    expect(err!.message).toMatch(/sending batch to splunk_hec 'hec': .*ECONNREFUSED/);
  });

  describe('TLS', () => {
    const certs = makeTestCertificates();
    const dir = mkdtempSync(join(tmpdir(), 'ab-hec-tls-'));
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, certs.caCert);

    it('verifies the server against ca_file', async () => {
      const { peer, sink } = await setup(
        { tls: certs },
        { ca_file: caFile, ack: { enabled: true, poll_interval_ms: 5 } },
      );
      expect(peer.url).toMatch(/^https:/);
      expect(await sink.send(records(5))).toBeUndefined();
      expect(peer.indexed).toHaveLength(5);
    });

    it('refuses an untrusted certificate (retryable: records stay queued)', async () => {
      const { peer, sink } = await setup({ tls: certs });
      const err = await sink.send(records(1)).then(
        () => null,
        (e: unknown) => e as Error,
      );
      expect(classify(err)).toBe('retryable');
      expect(err!.message).toMatch(/self.signed|unable to verify|issuer certificate/i);
      expect(peer.indexed).toHaveLength(0);
    });

    it('skips verification only with tls_verify: false, and warns at start', async () => {
      const { logger, lines } = capturingLogger();
      const { peer, sink } = await setup({ tls: certs, ack: false }, { tls_verify: false, logger });
      expect(lines.find((l) => l.level === 40)?.msg).toMatch(/TLS certificate verification is OFF/);
      await sink.send(records(2));
      expect(peer.indexed).toHaveLength(2);
      rmSync(dir, { recursive: true, force: true });
    });
  });
});
