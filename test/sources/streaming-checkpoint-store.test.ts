/**
 * The Redis CheckpointStore: etag compare-and-set on claims, checkpoints per consumer group, and — through two real
 * EventHubConsumerClient instances against the Event Hubs peer — partitions split between two consumers, and one
 * taking over the other's partitions from their checkpoints when it stops.
 */
import {
  EventHubConsumerClient,
  EventHubProducerClient,
  earliestEventPosition,
  type PartitionOwnership,
  type Subscription,
} from '@azure/event-hubs';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keysFor } from '../../src/pipeline/keys.js';
import { RedisCheckpointStore } from '../../src/sources/streaming/checkpoint-store.js';
import { startEventHubsPeer, type EventHubsPeer } from '../peers/eventhubs/server.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const NS = 'contoso.servicebus.windows.net';
const own = (partitionId: string, ownerId: string, etag?: string): PartitionOwnership => ({
  fullyQualifiedNamespace: NS,
  eventHubName: 'stream',
  consumerGroup: '$Default',
  partitionId,
  ownerId,
  etag,
});

describe('RedisCheckpointStore', () => {
  let redis: Redis;
  let prefix: string;
  let store: RedisCheckpointStore;
  beforeEach(() => {
    redis = new Redis(redisUrl());
    prefix = uniquePrefix('ckpt');
    store = new RedisCheckpointStore(redis, keysFor(prefix));
  });
  afterEach(async () => {
    await deletePrefix(prefix);
    redis.disconnect();
  });

  it('claims a free partition without an etag, then only with the current etag', async () => {
    const [a] = await store.claimOwnership([own('0', 'A')]);
    expect(a).toMatchObject({ partitionId: '0', ownerId: 'A' });
    expect(a!.etag).toEqual(expect.any(String));
    expect(a!.lastModifiedTimeInMs).toBeGreaterThan(0);
    // Without an etag a held partition cannot be taken; with a stale one neither.
    expect(await store.claimOwnership([own('0', 'B')])).toEqual([]);
    expect(await store.claimOwnership([own('0', 'B', 'stale')])).toEqual([]);
    const [b] = await store.claimOwnership([own('0', 'B', a!.etag)]);
    expect(b).toMatchObject({ ownerId: 'B' });
    expect(b!.etag).not.toBe(a!.etag);
    // A's etag is now stale: its renewal fails.
    expect(await store.claimOwnership([own('0', 'A', a!.etag)])).toEqual([]);
    expect(await store.listOwnership(NS, 'stream', '$Default')).toEqual([
      { ...own('0', 'B'), etag: b!.etag, lastModifiedTimeInMs: b!.lastModifiedTimeInMs },
    ]);
  });

  it('of concurrent claims with one etag exactly one wins', async () => {
    const [first] = await store.claimOwnership([own('3', 'A')]);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => store.claimOwnership([own('3', `C${i}`, first!.etag)])),
    );
    const winners = results.flat();
    expect(winners).toHaveLength(1);
    const [stored] = await store.listOwnership(NS, 'stream', '$Default');
    expect(stored).toMatchObject({ ownerId: winners[0]!.ownerId, etag: winners[0]!.etag });
  });

  it('claims several partitions at once and returns only those it won', async () => {
    const [held] = await store.claimOwnership([own('1', 'A')]);
    const won = await store.claimOwnership([own('0', 'B'), own('1', 'B'), own('2', 'B')]);
    expect(won.map((o) => o.partitionId).sort()).toEqual(['0', '2']);
    const list = await store.listOwnership(NS, 'stream', '$Default');
    expect(list.find((o) => o.partitionId === '1')).toMatchObject({ ownerId: 'A', etag: held!.etag });
  });

  it('keeps checkpoints per consumer group and hub (names case-insensitive), last write wins', async () => {
    const base = { fullyQualifiedNamespace: NS, eventHubName: 'stream', partitionId: '0' };
    await store.updateCheckpoint({ ...base, consumerGroup: '$Default', sequenceNumber: 5, offset: '1200' });
    await store.updateCheckpoint({ ...base, consumerGroup: 'siem', sequenceNumber: 1, offset: '100' });
    await store.updateCheckpoint({ ...base, consumerGroup: '$Default', sequenceNumber: 7, offset: '1900' });
    expect(await store.listCheckpoints(NS.toUpperCase(), 'Stream', '$default')).toEqual([
      {
        ...base,
        fullyQualifiedNamespace: NS.toUpperCase(),
        eventHubName: 'Stream',
        consumerGroup: '$default',
        sequenceNumber: 7,
        offset: '1900',
      },
    ]);
    expect(await store.listCheckpoints(NS, 'stream', 'siem')).toMatchObject([{ sequenceNumber: 1, offset: '100' }]);
    expect(await store.listCheckpoints(NS, 'other', 'siem')).toEqual([]);
    await expect(
      store.updateCheckpoint({ ...base, consumerGroup: 'siem', sequenceNumber: -1, offset: '0' }),
    ).rejects.toThrow(/not valid/);
  });

  it('a stored entry that is not JSON is skipped, and a claim over it fails instead of throwing', async () => {
    const { ownership } = store.keys(NS, 'stream', '$Default');
    await redis.hset(ownership, '0', 'garbage');
    expect(await store.listOwnership(NS, 'stream', '$Default')).toEqual([]);
    expect(await store.claimOwnership([own('0', 'A', 'x')])).toEqual([]);
  });
});

describe('RedisCheckpointStore with two real consumers', () => {
  let peer: EventHubsPeer;
  let redis: Redis;
  let prefix: string;
  const closers: Array<() => Promise<void>> = [];
  beforeEach(async () => {
    peer = await startEventHubsPeer({ hubs: { stream: 4 } });
    redis = new Redis(redisUrl());
    prefix = uniquePrefix('ckpt2');
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
    await peer.close();
    await deletePrefix(prefix);
    redis.disconnect();
  });

  interface Seen {
    consumer: string;
    partitionId: string;
    sequenceNumber: number;
    body: unknown;
  }

  const startConsumer = (name: string, seen: Seen[]) => {
    const store = new RedisCheckpointStore(redis, keysFor(prefix));
    const client = new EventHubConsumerClient('$Default', peer.connectionString(), store, {
      retryOptions: { maxRetries: 3, timeoutInMs: 10_000, retryDelayInMs: 200 },
      loadBalancingOptions: {
        strategy: 'balanced',
        updateIntervalInMs: 250,
        partitionOwnershipExpirationIntervalInMs: 5000,
      },
    });
    const sub: Subscription = client.subscribe(
      {
        processEvents: async (events, context) => {
          for (const e of events)
            seen.push({
              consumer: name,
              partitionId: context.partitionId,
              sequenceNumber: e.sequenceNumber,
              body: e.body,
            });
          // The checkpoint moves only after the batch is handled.
          if (events.length) await context.updateCheckpoint(events[events.length - 1]!);
        },
        processError: async () => undefined,
      },
      { startPosition: earliestEventPosition, maxBatchSize: 5, maxWaitTimeInSeconds: 1 },
    );
    const close = async () => {
      await sub.close();
      await client.close();
    };
    closers.push(close);
    return { store, close, ns: client.fullyQualifiedNamespace };
  };

  const send = async (from: number, to: number) => {
    const producer = new EventHubProducerClient(peer.connectionString());
    try {
      for (const partitionId of ['0', '1', '2', '3']) {
        const batch = await producer.createBatch({ partitionId });
        for (let i = from; i < to; i++) batch.tryAdd({ body: `${partitionId}-${i}` });
        await producer.sendBatch(batch);
      }
    } finally {
      await producer.close();
    }
  };

  const owners = async ({ store, ns }: { store: RedisCheckpointStore; ns: string }) => {
    const list = await store.listOwnership(ns, 'stream', '$Default');
    return new Map(list.filter((o) => o.ownerId).map((o) => [o.partitionId, o.ownerId]));
  };

  it('split the partitions; when one stops the other takes them over from their checkpoints', async () => {
    const seen: Seen[] = [];
    await send(0, 10);
    const a = startConsumer('A', seen);
    const b = startConsumer('B', seen);
    // Each consumer owns two partitions (the balanced strategy), and every event is processed.
    await waitFor(
      async () => {
        const o = await owners(a);
        const counts = new Map<string, number>();
        for (const id of o.values()) counts.set(id, (counts.get(id) ?? 0) + 1);
        return o.size === 4 && counts.size === 2 && [...counts.values()].every((n) => n === 2);
      },
      { timeoutMs: 60_000, what: 'an even split of the partitions' },
    );
    await waitFor(() => new Set(seen.map((s) => s.body)).size === 40, {
      timeoutMs: 60_000,
      what: 'the first 40 events',
    });
    const split = await owners(a);
    const ownerIds = [...new Set(split.values())];
    expect(ownerIds).toHaveLength(2);

    // Find which processor id is B: the consumer that processed events of a partition in the final split.
    await send(10, 12);
    await waitFor(() => new Set(seen.map((s) => s.body)).size === 48, {
      timeoutMs: 60_000,
      what: 'events after the split',
    });
    const lastBy = (partitionId: string) => seen.filter((s) => s.partitionId === partitionId).at(-1)!.consumer;
    const bPartitions = ['0', '1', '2', '3'].filter((p) => lastBy(p) === 'B');
    expect(bPartitions).toHaveLength(2);
    await b.close();
    const checkpoints = new Map(
      (await a.store.listCheckpoints(a.ns, 'stream', '$Default')).map((c) => [c.partitionId, c.sequenceNumber]),
    );
    for (const p of bPartitions) expect(checkpoints.get(p)).toBe(11);

    const before = seen.length;
    await send(12, 15);
    await waitFor(async () => (await owners(a)).size === 4 && new Set((await owners(a)).values()).size === 1, {
      timeoutMs: 60_000,
      what: 'A owning every partition',
    });
    await waitFor(() => new Set(seen.map((s) => s.body)).size === 60, {
      timeoutMs: 60_000,
      what: 'the last 12 events',
    });
    const after = seen.slice(before);
    for (const p of bPartitions) {
      const taken = after.filter((s) => s.partitionId === p);
      // A resumed after B's checkpoint: the new events only, none before it again.
      expect(taken.every((s) => s.consumer === 'A')).toBe(true);
      expect(taken.map((s) => s.sequenceNumber)).toEqual([12, 13, 14]);
    }
  });

  it("takes over a crashed consumer's partitions once its ownership expires, from its checkpoints", async () => {
    await send(0, 10);
    const seen: Seen[] = [];
    // A consumer that died (kill -9) left ownership it never renews, and checkpoints at sequence number 4.
    const ns = new EventHubConsumerClient('$Default', peer.connectionString()).fullyQualifiedNamespace;
    const store = new RedisCheckpointStore(redis, keysFor(prefix));
    const { ownership } = store.keys(ns, 'stream', '$Default');
    expect(peer.received).toHaveLength(40);
    const ckpts: Array<{ partitionId: string; offset: string; sequenceNumber: number }> = [];
    for (const partitionId of ['0', '1', '2', '3']) {
      // The offset of sequence number 4, read through a plain consumer.
      const consumer = new EventHubConsumerClient('$Default', peer.connectionString());
      const events: Array<{ offset: string; sequenceNumber: number }> = [];
      const sub = consumer.subscribe(
        partitionId,
        { processEvents: async (b) => void events.push(...b), processError: async () => undefined },
        { startPosition: { sequenceNumber: 4, isInclusive: true }, maxBatchSize: 1, maxWaitTimeInSeconds: 1 },
      );
      await waitFor(() => events.length > 0, { what: `the event at 4 of ${partitionId}` });
      await sub.close();
      await consumer.close();
      ckpts.push({ partitionId, offset: events[0]!.offset, sequenceNumber: events[0]!.sequenceNumber });
    }
    for (const c of ckpts) {
      expect(c.sequenceNumber).toBe(4);
      await store.updateCheckpoint({
        fullyQualifiedNamespace: ns,
        eventHubName: 'stream',
        consumerGroup: '$Default',
        ...c,
      });
      const stale = { ownerId: 'crashed', etag: `e${c.partitionId}`, lastModifiedTimeInMs: Date.now() - 2000 };
      await redis.hset(ownership, c.partitionId, JSON.stringify(stale));
    }
    startConsumer('A', seen);
    await waitFor(() => seen.length >= 20, { timeoutMs: 60_000, what: 'the events after the checkpoints' });
    const o = await store.listOwnership(ns, 'stream', '$Default');
    expect(new Set(o.map((x) => x.ownerId)).size).toBe(1);
    expect(o.map((x) => x.ownerId)).not.toContain('crashed');
    for (const p of ['0', '1', '2', '3'])
      expect(seen.filter((s) => s.partitionId === p).map((s) => s.sequenceNumber)).toEqual([5, 6, 7, 8, 9]);
  });
});
