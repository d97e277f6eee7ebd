/**
 * A "blackholed" peer: a TCP server that accepts connections and never answers, like a Redis host whose packets
 * are dropped after the handshake or a frozen server. Unlike a refused port, a client waits on it forever.
 */
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface Blackhole {
  /** `redis://127.0.0.1:PORT` (any client that speaks first and waits for an answer waits forever). */
  url: string;
  /** Connections it has accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

export async function startBlackhole(): Promise<Blackhole> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('data', () => undefined); // read and ignore
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    connections: () => accepted,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
