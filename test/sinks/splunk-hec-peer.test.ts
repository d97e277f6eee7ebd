/** The HEC peer answers like Splunk (codes, bodies, acks per channel), so that what the sink tests prove holds. */
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { splitConcatenatedJson, startHecPeer, type HecPeer, type HecPeerOptions } from '../peers/hec/server.js';

describe('HEC peer', () => {
  const peers: HecPeer[] = [];
  afterEach(async () => {
    for (const p of peers.splice(0)) await p.close();
  });
  const start = async (opts: HecPeerOptions = {}) => {
    const p = await startHecPeer(opts);
    peers.push(p);
    return p;
  };
  const post = async (peer: HecPeer, path: string, body: string | Uint8Array, headers: Record<string, string> = {}) => {
    const res = await fetch(`${peer.url}${path}`, {
      method: 'POST',
      body: typeof body === 'string' ? body : new Uint8Array(body),
      headers: { authorization: 'Splunk test-token', ...headers },
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('splits concatenated JSON and names the first malformed object', () => {
    expect(splitConcatenatedJson('{"a":1}{"b":"}{"}\n {"c":[1,{"d":2}]}')).toEqual({
      events: [{ a: 1 }, { b: '}{' }, { c: [1, { d: 2 }] }],
    });
    expect(splitConcatenatedJson('{"a":1}{"b":}')).toEqual({ events: [{ a: 1 }], badAt: 1 });
  });

  it('checks the token like Splunk: codes 2, 3, 4, 1 and 16', async () => {
    const peer = await start({ ack: false, disabledTokens: ['old'] });
    const event = '{"event":"x"}';
    const plain = (h: Record<string, string>) =>
      fetch(`${peer.url}/services/collector/event`, { method: 'POST', body: event, headers: h }).then(async (r) => [
        r.status,
        ((await r.json()) as { code: number }).code,
      ]);
    expect(await plain({})).toEqual([401, 2]);
    expect(await plain({ authorization: 'Bearer test-token' })).toEqual([401, 3]);
    expect(await plain({ authorization: 'Splunk nope' })).toEqual([403, 4]);
    expect(await plain({ authorization: 'Splunk old' })).toEqual([403, 1]);
    expect((await post(peer, '/services/collector/event?token=test-token', event)).body).toEqual({
      text: 'Query string authorization is not enabled',
      code: 16,
    });
    expect(await plain({ authorization: 'Splunk test-token' })).toEqual([200, 0]);
  });

  it('requires a GUID channel when acks are on, and acknowledges per channel after the delay', async () => {
    const peer = await start({ ackDelayMs: 3_600_000 });
    expect((await post(peer, '/services/collector/event', '{"event":1}')).body).toEqual({
      text: 'Data channel is missing',
      code: 10,
    });
    expect(
      (await post(peer, '/services/collector/event', '{"event":1}', { 'x-splunk-request-channel': 'nope' })).body,
    ).toMatchObject({ code: 11 });
    const a = randomUUID();
    const b = randomUUID();
    expect(
      (await post(peer, '/services/collector/event', '{"event":1}', { 'x-splunk-request-channel': a })).body,
    ).toEqual({ text: 'Success', code: 0, ackId: 0 });
    expect(
      (await post(peer, '/services/collector/event', '{"event":2}', { 'x-splunk-request-channel': a })).body,
    ).toMatchObject({ ackId: 1 });
    expect((await post(peer, `/services/collector/event?channel=${b}`, '{"event":3}')).body).toMatchObject({
      ackId: 0,
    });
    expect(
      (await post(peer, '/services/collector/ack', '{"acks":[0,1,7]}', { 'x-splunk-request-channel': a })).body,
    ).toEqual({ acks: { 0: false, 1: false, 7: false } });
    peer.setFaults({ ackDelayMs: 0 }); // the indexers catch up
    expect(
      (await post(peer, '/services/collector/ack', '{"acks":[0,1]}', { 'x-splunk-request-channel': a })).body,
    ).toEqual({ acks: { 0: true, 1: true } });
    expect(peer.indexed.map((e) => [e.event.event, e.ackId, e.channel])).toEqual([
      [1, 0, a],
      [2, 1, a],
      [3, 0, b],
    ]);
  });

  it('answers code 14 on /ack when acks are off on the token, and no ackId on events', async () => {
    const peer = await start({ ack: false });
    expect((await post(peer, '/services/collector/event', '{"event":1}')).body).toEqual({ text: 'Success', code: 0 });
    expect(
      (await post(peer, '/services/collector/ack', '{"acks":[0]}', { 'x-splunk-request-channel': randomUUID() })).body,
    ).toEqual({ text: 'ACK is disabled', code: 14 });
  });

  it('refuses events with the documented codes and invalid-event-number, indexing those before', async () => {
    const peer = await start({ ack: false, indexes: ['main'], invalidEvent: (e) => e.event === 'bad' });
    expect((await post(peer, '/services/collector/event', '{"event":"a"}{"event":"bad"}{"event":"c"}')).body).toEqual({
      text: 'Invalid data format',
      code: 6,
      'invalid-event-number': 1,
    });
    expect((await post(peer, '/services/collector/event', '{"event":"d"}{"time":1}')).body).toEqual({
      text: 'Event field is required',
      code: 12,
      'invalid-event-number': 1,
    });
    expect((await post(peer, '/services/collector/event', '{"event":""}')).body).toMatchObject({
      code: 13,
      'invalid-event-number': 0,
    });
    expect((await post(peer, '/services/collector/event', '{"event":"e","index":"other"}')).body).toMatchObject({
      code: 7,
      text: 'Incorrect index',
    });
    expect((await post(peer, '/services/collector/event', '{"event":"f"}{"event":')).body).toMatchObject({
      code: 6,
      'invalid-event-number': 1,
    });
    expect((await post(peer, '/services/collector/event', '  ')).body).toEqual({ text: 'No data', code: 5 });
    expect(peer.indexed.map((e) => e.event.event)).toEqual(['a', 'd', 'f']);
  });

  it('plays a proxy that refuses a request with a bare 400 page when asked (proxyRefusal), indexing none of it', async () => {
    const peer = await start({ ack: false, proxyRefusal: (e) => e.event === 'blocked' });
    const res = await fetch(`${peer.url}/services/collector/event`, {
      method: 'POST',
      body: '{"event":"a"}{"event":"blocked"}',
      headers: { authorization: 'Splunk test-token' },
    });
    expect([res.status, res.headers.get('content-type')]).toEqual([400, 'text/html']);
    expect(await res.text()).toContain('400 Bad Request');
    expect((await post(peer, '/services/collector/event', '{"event":"b"}')).status).toBe(200);
    expect(peer.indexed.map((e) => e.event.event)).toEqual(['b']);
  });

  it('plays a proxy that answers 200 with an HTML page when asked (proxyHtmlOk): no ackId, nothing indexed', async () => {
    const peer = await start({ proxyHtmlOk: true });
    const res = await fetch(`${peer.url}/services/collector/event`, {
      method: 'POST',
      body: '{"event":"a"}',
      headers: { authorization: 'Splunk test-token', 'x-splunk-request-channel': randomUUID() },
    });
    expect([res.status, res.headers.get('content-type')]).toEqual([200, 'text/html']);
    expect(await res.text()).toContain('<html>');
    expect(peer.indexed).toEqual([]);
  });

  it('serves gzip bodies, /raw, /health, 413 and 503 injection', async () => {
    const peer = await start({ ack: false, maxContentLength: 100 });
    expect(
      (await post(peer, '/services/collector/event', gzipSync('{"event":"zipped"}'), { 'content-encoding': 'gzip' }))
        .status,
    ).toBe(200);
    expect((await post(peer, '/services/collector/raw?sourcetype=syslog', 'line one\nline two\n')).status).toBe(200);
    expect(peer.indexed.map((e) => [e.endpoint, e.event.event])).toEqual([
      ['event', 'zipped'],
      ['raw', 'line one'],
      ['raw', 'line two'],
    ]);
    expect(peer.indexed[1]!.event.sourcetype).toBe('syslog');
    expect((await fetch(`${peer.url}/services/collector/health`)).status).toBe(200);
    expect((await post(peer, '/services/collector/event', `{"event":"${'x'.repeat(200)}"}`)).status).toBe(413);
    peer.setFaults({ busyRate: 1, busyRetryAfter: '3' });
    const res = await fetch(`${peer.url}/services/collector/event`, {
      method: 'POST',
      body: '{"event":1}',
      headers: { authorization: 'Splunk test-token' },
    });
    expect([res.status, res.headers.get('retry-after'), await res.json()]).toEqual([
      503,
      '3',
      { text: 'Server is busy', code: 9 },
    ]);
  });
});
