/**
 * The Event Hubs peer's receive side, through the real `@azure/event-hubs` consumer: receiver links of a consumer
 * group, starting positions (earliest, latest, an offset, a sequence number), the annotations the service adds,
 * credit-based flow, owner levels, and a restart that resumes after a checkpoint. The streaming source relies on the
 * peer being faithful here.
 */
import {
  EventHubConsumerClient,
  EventHubProducerClient,
  earliestEventPosition,
  latestEventPosition,
  type EventPosition,
  type ReceivedEventData,
} from '@azure/event-hubs';
import { afterEach, describe, expect, it } from 'vitest';
import { startEventHubsPeer, startIndex, type EventHubsPeer } from '../peers/eventhubs/server.js';
import { waitFor } from '../helpers/wait.js';

type Closeable = { close(): Promise<void> };

describe('Event Hubs peer: consumers through the real client', () => {
  const open: Closeable[] = [];
  afterEach(async () => {
    for (const c of open.splice(0).reverse()) await c.close();
  });
  const peerWith = async (opts: Parameters<typeof startEventHubsPeer>[0] = {}) => {
    const peer = await startEventHubsPeer(opts);
    open.push(peer);
    return peer;
  };
  const producer = (peer: EventHubsPeer) => {
    const p = new EventHubProducerClient(peer.connectionString(), {
      retryOptions: { maxRetries: 0, timeoutInMs: 10_000 },
    });
    open.push(p);
    return p;
  };
  const consumer = (peer: EventHubsPeer, group = '$default') => {
    const c = new EventHubConsumerClient(group, peer.connectionString(), {
      retryOptions: { maxRetries: 2, timeoutInMs: 10_000, retryDelayInMs: 200 },
    });
    open.push(c);
    return c;
  };
  const send = async (p: EventHubProducerClient, partitionId: string, bodies: unknown[]) => {
    const batch = await p.createBatch({ partitionId });
    for (const body of bodies) expect(batch.tryAdd({ body, properties: { n: String(body) } })).toBe(true);
    await p.sendBatch(batch);
  };
  /** Subscribes to one partition and collects what arrives. */
  const collect = (c: EventHubConsumerClient, partitionId: string, startPosition: EventPosition, maxBatchSize = 10) => {
    const events: ReceivedEventData[] = [];
    const errors: Error[] = [];
    const sub = c.subscribe(
      partitionId,
      {
        processEvents: async (batch) => {
          events.push(...batch);
        },
        processError: async (err) => {
          errors.push(err);
        },
      },
      { startPosition, maxBatchSize, maxWaitTimeInSeconds: 1 },
    );
    open.push(sub);
    return { events, errors, sub };
  };

  it('delivers events in order per partition with the service annotations, from the earliest position', async () => {
    const peer = await peerWith({ hubs: { alerts: 2 } });
    const p = producer(peer);
    await send(p, '0', [0, 1, 2]);
    await send(p, '1', ['a']);
    const c = consumer(peer);
    const zero = collect(c, '0', earliestEventPosition);
    const one = collect(c, '1', earliestEventPosition);
    await waitFor(() => zero.events.length >= 3 && one.events.length >= 1, { what: 'the stored events' });
    await send(p, '0', [3, 4]);
    await waitFor(() => zero.events.length >= 5, { what: 'the events sent while reading' });
    expect(zero.events.map((e) => e.body)).toEqual([0, 1, 2, 3, 4]);
    expect(zero.events.map((e) => e.sequenceNumber)).toEqual([0, 1, 2, 3, 4]);
    expect(zero.events.map((e) => e.properties)).toEqual(['0', '1', '2', '3', '4'].map((n) => ({ n })));
    // Offsets are byte positions: increasing strings, not the sequence numbers.
    const offsets = zero.events.map((e) => Number(e.offset));
    expect(offsets[0]).toBe(0);
    for (let i = 1; i < offsets.length; i++) expect(offsets[i]!).toBeGreaterThan(offsets[i - 1]! + 1);
    for (const e of zero.events) expect(e.enqueuedTimeUtc).toBeInstanceOf(Date);
    expect(one.events.map((e) => e.body)).toEqual(['a']);
    expect(zero.errors).toEqual([]);
    // The partition properties agree with what the consumer saw.
    const props = await c.getPartitionProperties('0');
    expect(props).toMatchObject({ lastEnqueuedSequenceNumber: 4, lastEnqueuedOffset: zero.events[4]!.offset });
    expect(peer.receivers()).toEqual(
      expect.arrayContaining([
        { hub: 'alerts', consumerGroup: '$default', partition: '0', ownerLevel: undefined },
        { hub: 'alerts', consumerGroup: '$default', partition: '1', ownerLevel: undefined },
      ]),
    );
  });

  it('starts at the latest position, after an offset, after a sequence number', async () => {
    const peer = await peerWith({ hubs: { alerts: 1 } });
    const p = producer(peer);
    await send(p, '0', [0, 1, 2, 3]);
    const offsets = peer.received.map((e) => e.sequenceNumber);
    expect(offsets).toEqual([0, 1, 2, 3]);
    const latest = collect(consumer(peer), '0', latestEventPosition);
    await waitFor(() => peer.receivers().length === 1, { what: 'the receiver link' });
    const all = collect(consumer(peer), '0', earliestEventPosition);
    await waitFor(() => all.events.length === 4, { what: 'the earliest reader' });
    const afterOffset = collect(consumer(peer), '0', { offset: all.events[1]!.offset });
    const fromOffset = collect(consumer(peer), '0', { offset: all.events[1]!.offset, isInclusive: true });
    const afterSeq = collect(consumer(peer), '0', { sequenceNumber: 2 });
    await waitFor(
      () => afterOffset.events.length === 2 && fromOffset.events.length === 3 && afterSeq.events.length === 1,
      { what: 'the positioned readers' },
    );
    await send(p, '0', [4]);
    await waitFor(() => latest.events.length === 1 && afterSeq.events.length === 2, { what: 'the new event' });
    expect(latest.events.map((e) => e.body)).toEqual([4]);
    expect(afterOffset.events.map((e) => e.body)).toEqual([2, 3, 4].slice(0, afterOffset.events.length));
    expect(fromOffset.events.map((e) => e.body).slice(0, 3)).toEqual([1, 2, 3]);
    expect(afterSeq.events.map((e) => e.body)).toEqual([3, 4]);
  });

  it('sends no more than the credit the client grants (credit-based flow)', async () => {
    const peer = await peerWith({ hubs: { alerts: 1 } });
    const total = 500;
    peer.enqueue(
      'alerts',
      '0',
      Array.from({ length: total }, (_, i) => ({ body: JSON.stringify(i) })),
    );
    const c = consumer(peer);
    let inFlight = 0;
    let releaseFirst!: () => void;
    const firstHeld = new Promise<void>((r) => (releaseFirst = r));
    const bodies: unknown[] = [];
    const sub = c.subscribe(
      '0',
      {
        processEvents: async (batch) => {
          bodies.push(...batch.map((e) => e.body));
          if (inFlight++ === 0) await firstHeld;
        },
        processError: async () => undefined,
      },
      { startPosition: earliestEventPosition, maxBatchSize: 5, maxWaitTimeInSeconds: 1 },
    );
    open.push(sub);
    await waitFor(() => bodies.length >= 5, { what: 'the first batch' });
    // While the handler holds its first batch, the client's prefetch (3 × maxBatchSize) bounds what the peer sends.
    await new Promise((r) => setTimeout(r, 500));
    expect(peer.stats.delivered).toBeLessThan(total);
    releaseFirst();
    await waitFor(() => bodies.length === total, { what: 'every event' });
    expect(bodies).toEqual(Array.from({ length: total }, (_, i) => i));
  });

  it('refuses unknown consumer groups and partitions; knows created groups', async () => {
    const peer = await peerWith({ hubs: { alerts: 2 }, consumerGroups: ['siem'] });
    peer.enqueue('alerts', '0', [{ body: '"x"' }]);
    const unknown = collect(consumer(peer, 'nope'), '0', earliestEventPosition);
    await waitFor(() => unknown.errors.length > 0, { what: 'the refusal' });
    expect((unknown.errors[0] as Error & { code?: string }).code).toBe('MessagingEntityNotFoundError');
    expect(unknown.events).toEqual([]);
    const siem = collect(consumer(peer, 'siem'), '0', earliestEventPosition);
    await waitFor(() => siem.events.length === 1, { what: 'the named group' });
    peer.createConsumerGroup('later');
    const later = collect(consumer(peer, 'later'), '0', earliestEventPosition);
    await waitFor(() => later.events.length === 1, { what: 'the created group' });
    const bad = collect(consumer(peer), '7', earliestEventPosition);
    await waitFor(() => bad.errors.length > 0, { what: 'the partition refusal' });
    expect((bad.errors[0] as Error & { code?: string }).code).toBe('ArgumentOutOfRangeError');
  });

  it('an owner level disconnects the lower reader of the partition (ReceiverDisconnectedError)', async () => {
    const peer = await peerWith({ hubs: { alerts: 1 } });
    peer.enqueue('alerts', '0', [{ body: '1' }]);
    const lowErrors: Error[] = [];
    const low = consumer(peer).subscribe(
      '0',
      { processEvents: async () => undefined, processError: async (e) => void lowErrors.push(e) },
      { startPosition: earliestEventPosition, ownerLevel: 1 },
    );
    open.push(low);
    await waitFor(() => peer.receivers().length === 1, { what: 'the first reader' });
    const high = consumer(peer).subscribe(
      '0',
      { processEvents: async () => undefined, processError: async () => undefined },
      { startPosition: earliestEventPosition, ownerLevel: 2 },
    );
    open.push(high);
    await waitFor(() => lowErrors.some((e) => (e as Error & { code?: string }).code === 'ReceiverDisconnectedError'), {
      what: 'the stolen link',
    });
    await waitFor(() => peer.receivers().some((r) => r.ownerLevel === 2), { what: 'the higher reader' });
    expect(peer.receivers().every((r) => r.ownerLevel === 2)).toBe(true);
    expect(peer.stats.receiversStolen).toBeGreaterThan(0);
  });

  it('closing a consumer that holds prefetched events leaves the connection usable (late dispositions)', async () => {
    const peer = await peerWith({ hubs: { alerts: 1 } });
    peer.enqueue(
      'alerts',
      '0',
      Array.from({ length: 10 }, (_, i) => ({ body: String(i) })),
    );
    for (let round = 0; round < 3; round++) {
      // maxBatchSize 1: the client prefetches 3, so closing leaves received-but-unsettled events behind.
      const c = consumer(peer);
      const r = collect(c, '0', { sequenceNumber: 4, isInclusive: true }, 1);
      await waitFor(() => r.events.length > 0, { what: `round ${round}` });
      expect(r.events[0]!.sequenceNumber).toBe(4);
      await r.sub.close();
      await c.close(); // hung here: the peer's connection had died on the client's late dispositions
    }
    expect(peer.stats.receiversOpened).toBe(3);
  });

  it('a restart from a checkpoint resumes after it', async () => {
    const peer = await peerWith({ hubs: { alerts: 1 } });
    const p = producer(peer);
    await send(p, '0', [0, 1, 2, 3, 4]);
    const first = consumer(peer);
    const a = collect(first, '0', earliestEventPosition, 3);
    await waitFor(() => a.events.length === 5, { what: 'the first run' });
    const checkpoint = a.events[2]!; // processed up to here
    await a.sub.close();
    await first.close();
    await send(p, '0', [5, 6]);
    const b = collect(consumer(peer), '0', { offset: checkpoint.offset });
    await waitFor(() => b.events.length === 4, { what: 'the resumed run' });
    expect(b.events.map((e) => e.body)).toEqual([3, 4, 5, 6]);
    expect(b.events.map((e) => e.sequenceNumber)).toEqual([3, 4, 5, 6]);
  });
});

describe('startIndex: the selector filter the client writes', () => {
  const log = [0, 1, 2].map((i) => ({
    message: {} as never,
    sequenceNumber: i,
    offset: i * 100,
    enqueuedAt: 1000 + i,
  }));
  it.each([
    ["amqp.annotation.x-opt-offset > '-1'", 0],
    ["amqp.annotation.x-opt-offset > '@latest'", 3],
    ["amqp.annotation.x-opt-offset > '100'", 2],
    ["amqp.annotation.x-opt-offset >= '100'", 1],
    ["amqp.annotation.x-opt-sequence-number > '0'", 1],
    ["amqp.annotation.x-opt-sequence-number >= '2'", 2],
    ["amqp.annotation.x-opt-sequence-number > '9'", 3],
    ["amqp.annotation.x-opt-enqueued-time > '1000'", 1],
  ])('%s → %d', (filter, index) => {
    expect(startIndex(filter, log)).toBe(index);
  });
  it('refuses what it cannot read', () => {
    expect(startIndex("amqp.annotation.x-opt-offset > 'x'", log)).toMatch(/not a number/);
    expect(startIndex('1 = 1', log)).toMatch(/unsupported/);
  });
});
