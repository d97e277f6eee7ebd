/**
 * A loopback HTTP proxy in front of the simulator's Graph routes that can change what Graph answers, for payloads
 * the simulator never makes (a `null` item in a page, a `value` that is not a list). Links in bodies are rewritten
 * to the proxy's origin, so nextLinks keep going through it. Token requests go straight to the simulator.
 */
import { createServer, type Server } from 'node:http';
import { Agent, request } from 'undici';
import type { Simulator } from '../../src/simulator/types.js';

export interface Mangler {
  url: string;
  /** Changes a Graph JSON body before the client sees it; `path` is the request path with its query. */
  alter?: (body: Record<string, unknown>, path: string) => Record<string, unknown>;
  /** Ms a Graph request is held before it is passed on (transit: Graph sees it that much later). */
  delay?: (path: string) => number;
  close(): Promise<void>;
}

export async function startMangler(sim: Simulator): Promise<Mangler> {
  const agent = new Agent({ connect: { ca: sim.caPem } });
  const simOrigin = new URL(sim.url).origin;
  let origin = '';
  const m: Mangler = { url: '', close: async () => undefined };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const delay = m.delay?.(req.url ?? '/') ?? 0;
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
        const headers = Object.fromEntries(
          Object.entries(req.headers).filter(([k]) => k !== 'host' && k !== 'connection'),
        ) as Record<string, string>;
        const up = await request(`${simOrigin}${req.url ?? '/'}`, {
          method: req.method as 'GET',
          headers,
          body: chunks.length ? Buffer.concat(chunks) : undefined,
          dispatcher: agent,
        });
        let text = (await up.body.text()).split(simOrigin).join(origin);
        if (m.alter && text.startsWith('{') && up.statusCode < 300)
          text = JSON.stringify(m.alter(JSON.parse(text) as Record<string, unknown>, req.url ?? '/'));
        const out: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(up.headers))
          if (v !== undefined && k !== 'content-length' && k !== 'transfer-encoding' && k !== 'connection') out[k] = v;
        res.writeHead(up.statusCode, out);
        res.end(text);
      })().catch((err: Error) => {
        if (!res.headersSent) res.writeHead(502);
        res.end(err.message);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  origin = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  m.url = `${origin}${new URL(sim.url).pathname}`.replace(/\/+$/, '');
  m.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => void agent.close().then(() => resolve()));
    });
  return m;
}
