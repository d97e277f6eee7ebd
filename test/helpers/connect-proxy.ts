/**
 * A small forward proxy for tests: HTTP CONNECT tunnels only (what undici and the HTTPS clients use), with optional
 * Basic proxy authentication. It records every tunnel asked for — its target and whether it was allowed — and
 * never sees inside one (TLS runs end to end through it).
 */
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';

export interface Tunnel {
  /** `host:port` as asked in the CONNECT line. */
  target: string;
  /** The `Proxy-Authorization` header as received (tests assert the credentials arrived; never logged). */
  authorization?: string;
  allowed: boolean;
}

export interface ConnectProxy {
  /** `http://127.0.0.1:port`, without credentials. */
  url: string;
  port: number;
  tunnels: Tunnel[];
  /** Tunnels to `target` that were let through. */
  opened(target: string): number;
  close(): Promise<void>;
}

/** @param auth `user:password` the proxy requires (407 otherwise); none when omitted. */
export async function startConnectProxy(opts: { auth?: string } = {}): Promise<ConnectProxy> {
  const tunnels: Tunnel[] = [];
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  const server = http.createServer((_req, res) =>
    res.writeHead(405, { 'content-type': 'text/plain' }).end('CONNECT only\n'),
  );
  server.on('connection', track);
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const target = req.url ?? '';
    const authorization = req.headers['proxy-authorization'];
    const allowed = !opts.auth || authorization === `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    tunnels.push({ target, authorization, allowed });
    if (!allowed) {
      client.end(
        'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n',
      );
      return;
    }
    const i = target.lastIndexOf(':');
    const upstream = net.connect(Number(target.slice(i + 1)), target.slice(0, i).replace(/^\[|\]$/g, ''), () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    track(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    tunnels,
    opened: (target) => tunnels.filter((t) => t.allowed && t.target === target).length,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
