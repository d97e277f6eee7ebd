/**
 * `concurrency` applies to the kafka sink: N deliveries go out at once, each on a producer of its own (one
 * idempotent producer cannot take two sends at once). Seen from the network, without a broker: a listener that
 * accepts connections and never answers holds every delivery at its first request, so the number of connections
 * open at once is the number of deliveries in flight.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { KafkaSinkSchema } from '../../sinks/kafka/config.js';
import { createKafkaSink, type KafkaSink } from '../../sinks/kafka/index.js';
import { sinkFormat } from '../../src/record/format.js';
import { silentLogger } from '../helpers/pipeline.js';
import { records } from '../helpers/records.js';
import { waitFor } from '../helpers/wait.js';

describe('kafka sink concurrency', () => {
  let server: Server | undefined;
  const sockets: Socket[] = [];
  let sink: KafkaSink | undefined;
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    await sink?.close();
    server = sink = undefined;
  });

  const silentBroker = async (): Promise<string> => {
    server = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const address = server.address() as { port: number };
    return `127.0.0.1:${address.port}`;
  };

  it('concurrency: 3 sends three deliveries at once, each on its own connection', async () => {
    const broker = await silentBroker();
    sink = createKafkaSink({
      config: KafkaSinkSchema.parse({
        type: 'kafka',
        name: 'kafka',
        brokers: [broker],
        concurrency: 3,
        request_timeout_ms: 60_000,
      }),
      logger: silentLogger,
      ...sinkFormat('envelope'),
    });
    const batch = records(3);
    const sends = batch.map((r) => sink!.send([r]).catch((err: unknown) => err));
    // With one delivery in flight at a time (the old behaviour), the second connection never opens.
    await waitFor(() => sockets.length >= 3, { timeoutMs: 30_000, what: 'three connections at once' });
    expect(sockets.filter((s) => !s.destroyed)).toHaveLength(3);
    for (const s of sockets.splice(0)) s.destroy();
    server!.close();
    const outcomes = await Promise.all(sends);
    for (const outcome of outcomes) expect(outcome).toBeInstanceOf(Error);
  }, 120_000);
});
