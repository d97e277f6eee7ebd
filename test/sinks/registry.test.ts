/** The registry's wrapper is the sink the app holds: it must say what the sink says, readiness and its reason. */
import { afterEach, describe, expect, it } from 'vitest';
import { createSink } from '../../sinks/registry.js';
import type { Sink } from '../../sinks/types.js';
import { EventHubsSinkSchema } from '../../src/config/sinks.js';
import { sinkFormat } from '../../src/record/format.js';
import { silentLogger } from '../helpers/pipeline.js';
import { records } from '../helpers/records.js';
import { startEventHubsPeer, type EventHubsPeer } from '../peers/eventhubs/server.js';

describe('sink registry', () => {
  let peer: EventHubsPeer | undefined;
  let sink: Sink | undefined;
  afterEach(async () => {
    await sink?.close();
    await peer?.close();
    sink = peer = undefined;
  });

  it('forwards ready() and notReadyReason() of the sink it loaded', async () => {
    peer = await startEventHubsPeer();
    const config = EventHubsSinkSchema.parse({
      type: 'azure_event_hubs',
      name: 'eh',
      connection_string: peer.connectionString(undefined, { key: 'b2xkLWtleQ==' }), // a key the hub refuses
    });
    sink = createSink(config, silentLogger, sinkFormat('envelope'));
    expect(sink.ready?.()).toBe(true);
    await expect(sink.send(records(1))).rejects.toMatchObject({ name: 'RetryableError' });
    expect(sink.ready?.()).toBe(false);
    expect(sink.notReadyReason?.()).toMatch(/^its credentials are refused: /);
  });
});
