/** A minimal round-robin HTTP load balancer on loopback, standing in for a Kubernetes Service/Ingress in tests. */
import { createServer, request, type Server } from 'node:http';

export interface Proxy {
  url: string;
  /** Requests forwarded to each backend, by index. */
  counts: number[];
  close(): Promise<void>;
}

export async function startRoundRobinProxy(backends: number[]): Promise<Proxy> {
  const counts = backends.map(() => 0);
  let next = 0;
  const server: Server = createServer((req, res) => {
    const i = next++ % backends.length;
    counts[i]!++;
    const upstream = request(
      { host: '127.0.0.1', port: backends[i], method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
