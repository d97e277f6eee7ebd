/**
 * The Event Hubs peer itself, through the real `@azure/event-hubs` client: `$management` reads (hub and partition
 * properties) and sender links to one partition, as the service answers them. The sink tests rely on the peer
 * being faithful; these pin down the parts the sink does not exercise.
 */
import { EventHubProducerClient } from '@azure/event-hubs';
import { afterEach, describe, expect, it } from 'vitest';
import { startEventHubsPeer, type EventHubsPeer } from '../peers/eventhubs/server.js';

const failure = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: unknown) => e as Error & { code?: string },
  );

describe('Event Hubs peer through the real client', () => {
  const open: Array<{ client: EventHubProducerClient; peer: EventHubsPeer }> = [];
  afterEach(async () => {
    for (const { client, peer } of open.splice(0)) {
      await client.close();
      await peer.close();
    }
  });
  const setup = async (hubs: Record<string, number> = { alerts: 4 }, hub?: string, creds?: { key?: string }) => {
    const peer = await startEventHubsPeer({ hubs });
    const client = new EventHubProducerClient(peer.connectionString(hub, creds), {
      retryOptions: { maxRetries: 0, timeoutInMs: 5000 },
    });
    open.push({ client, peer });
    return { peer, client };
  };

  it('reads the hub properties and partition ids ($management, com.microsoft:eventhub)', async () => {
    const { peer, client } = await setup({ alerts: 4, other: 2 });
    const before = Date.now();
    const props = await client.getEventHubProperties();
    expect(props).toMatchObject({ name: 'alerts', partitionIds: ['0', '1', '2', '3'], isGeoDrEnabled: false });
    expect(props.createdOn).toBeInstanceOf(Date);
    expect(props.createdOn.getTime()).toBeLessThanOrEqual(before);
    expect(await client.getPartitionIds()).toEqual(['0', '1', '2', '3']);
    expect(peer.stats.managementRequests).toBe(2);
  });

  it('reads the properties of an empty partition and of one that holds events', async () => {
    const { client } = await setup();
    expect(await client.getPartitionProperties('2')).toMatchObject({
      eventHubName: 'alerts',
      partitionId: '2',
      isEmpty: true,
      lastEnqueuedSequenceNumber: -1,
      lastEnqueuedOffset: '-1',
      beginningSequenceNumber: 0,
    });
    const t0 = Date.now();
    const batch = await client.createBatch({ partitionId: '2' });
    for (let i = 0; i < 5; i++) expect(batch.tryAdd({ body: `event ${i}` })).toBe(true);
    await client.sendBatch(batch);
    const props = await client.getPartitionProperties('2');
    expect(props).toMatchObject({
      eventHubName: 'alerts',
      partitionId: '2',
      isEmpty: false,
      lastEnqueuedSequenceNumber: 4,
      beginningSequenceNumber: 0,
    });
    expect(props.lastEnqueuedOnUtc.getTime()).toBeGreaterThanOrEqual(t0 - 1000);
    expect(await client.getPartitionProperties('3')).toMatchObject({ isEmpty: true, lastEnqueuedSequenceNumber: -1 });
  });

  it('refuses partition ids the hub does not have, as the service does (ArgumentOutOfRangeError)', async () => {
    const { client } = await setup();
    for (const id of ['4', '-1', '', '1.5', 'x']) {
      const err = await failure(client.getPartitionProperties(id));
      expect(err?.code, `partition '${id}'`).toBe('ArgumentOutOfRangeError');
    }
  });

  it('answers $management reads for an unknown hub with MessagingEntityNotFoundError', async () => {
    const { client } = await setup({ alerts: 4 }, 'nope');
    const err = await failure(client.getEventHubProperties());
    expect(err?.code).toBe('MessagingEntityNotFoundError');
  });

  it('refuses a name no event hub can have with ArgumentError, and knows a hub created later', async () => {
    const bad = await setup({ alerts: 4 }, 'bad-name-');
    expect((await failure(bad.client.getEventHubProperties()))?.code).toBe('ArgumentError');
    const { client, peer } = await setup({ alerts: 4 }, 'later');
    expect((await failure(client.getEventHubProperties()))?.code).toBe('MessagingEntityNotFoundError');
    peer.createHub('later', 2);
    expect((await client.getEventHubProperties()).partitionIds).toEqual(['0', '1']);
  });

  it('answers $management reads with a wrong key with UnauthorizedError', async () => {
    const { client } = await setup({ alerts: 4 }, undefined, { key: 'd3Jvbmc=' });
    const err = await failure(client.getEventHubProperties());
    expect(err?.code).toBe('UnauthorizedError');
  });

  it('sends to one partition over its own link (sendBatch with partitionId, and send with a partitionId option)', async () => {
    const { peer, client } = await setup();
    const batch = await client.createBatch({ partitionId: '1' });
    batch.tryAdd({ body: 'a', messageId: 'm-a' });
    batch.tryAdd({ body: 'b', messageId: 'm-b' });
    await client.sendBatch(batch);
    await client.sendBatch([{ body: 'c', messageId: 'm-c' }], { partitionId: '3' });
    expect(peer.received.map((e) => [e.partition, e.messageId, e.partitionKey, e.sequenceNumber])).toEqual([
      ['1', 'm-a', undefined, 0],
      ['1', 'm-b', undefined, 1],
      ['3', 'm-c', undefined, 0],
    ]);
    expect(peer.batches.map((b) => [b.partition, b.count])).toEqual([
      ['1', 2],
      ['3', 1],
    ]);
  });

  it('refuses a partition link to a partition the hub does not have', async () => {
    const { peer, client } = await setup({ alerts: 2 });
    const err = await failure(client.sendBatch([{ body: 'x' }], { partitionId: '7' }));
    expect(err).toBeInstanceOf(Error);
    expect(peer.received).toEqual([]);
  });
});
