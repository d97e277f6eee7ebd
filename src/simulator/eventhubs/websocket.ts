/**
 * The server side of AMQP over WebSockets for the Event Hubs peer, without the `ws` package (not a dependency):
 * an HTTPS server that answers the RFC 6455 upgrade on `/$servicebus/websocket` (subprotocol `AMQPWSB10`, as the
 * service) and hands each connection to rhea (`container.websocket_accept`) as the small `ws`-like object rhea's
 * wrapper reads: `send`, `close`, `onmessage`/`onclose`/`onerror`. AMQP is a byte stream, so each binary frame's
 * payload is passed on as it arrives (fragments need no reassembly); client frames are masked (unmasked, as the RFC
 * requires), server frames are not. Ping is answered, close is echoed.
 */
import { createHash } from 'node:crypto';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

export const WEBSOCKET_PATH = '/$servicebus/websocket';

/** What rhea's websocket wrapper uses of a WebSocket (`lib/ws.js`). */
export interface RheaWebSocketLike {
  url: string;
  send(data: Buffer): void;
  close(): void;
  onmessage?: (e: { data: Buffer }) => void;
  onclose?: () => void;
  onerror?: (e: unknown) => void;
}

const frame = (opcode: number, payload: Buffer): Buffer => {
  const n = payload.length;
  const head =
    n < 126
      ? Buffer.from([0x80 | opcode, n])
      : n < 65536
        ? Buffer.from([0x80 | opcode, 126, n >> 8, n & 0xff])
        : Buffer.concat([
            Buffer.from([0x80 | opcode, 127]),
            (() => {
              const b = Buffer.alloc(8);
              b.writeBigUInt64BE(BigInt(n));
              return b;
            })(),
          ]);
  return Buffer.concat([head, payload]);
};

/** Wraps an upgraded socket. */
function serve(socket: Socket, url: string): RheaWebSocketLike {
  let pending = Buffer.alloc(0);
  let closed = false;
  const ws: RheaWebSocketLike = {
    url,
    send: (data) => {
      if (!closed) socket.write(frame(0x2, Buffer.from(data)));
    },
    close: () => {
      if (closed) return;
      closed = true;
      socket.end(frame(0x8, Buffer.from([0x03, 0xe8])));
    },
  };
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      if (pending.length < 2) return;
      const opcode = pending[0]! & 0x0f;
      const masked = (pending[1]! & 0x80) !== 0;
      let len = pending[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (pending.length < 4) return;
        len = pending.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (pending.length < 10) return;
        len = Number(pending.readBigUInt64BE(2));
        at = 10;
      }
      if (!masked) {
        ws.onerror?.(new Error('unmasked client frame'));
        socket.destroy();
        return;
      }
      if (pending.length < at + 4 + len) return;
      const mask = pending.subarray(at, at + 4);
      const payload = Buffer.from(pending.subarray(at + 4, at + 4 + len));
      for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
      pending = pending.subarray(at + 4 + len);
      if (opcode === 0x8) {
        if (!closed) {
          closed = true;
          socket.end(frame(0x8, payload.subarray(0, 2)));
        }
        return;
      }
      if (opcode === 0x9) socket.write(frame(0xa, payload));
      else if ((opcode === 0x0 || opcode === 0x2) && payload.length) ws.onmessage?.({ data: payload });
    }
  });
  socket.on('error', (err) => ws.onerror?.(err));
  socket.on('close', () => {
    closed = true;
    ws.onclose?.();
  });
  return ws;
}

/**
 * An HTTPS server (on 127.0.0.1, a random port) accepting WebSocket upgrades on `WEBSOCKET_PATH`; `accept` gets each
 * connection. Other requests get 404; an upgrade elsewhere or without a key, 400.
 */
export function createWebSocketServer(
  tls: { cert: string; key: string },
  accept: (ws: RheaWebSocketLike) => void,
): https.Server {
  const server = https.createServer({ cert: tls.cert, key: tls.key }, (_req, res) => res.writeHead(404).end());
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const key = req.headers['sec-websocket-key'];
    if (req.url !== WEBSOCKET_PATH || typeof key !== 'string' || req.headers.upgrade?.toLowerCase() !== 'websocket') {
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const acceptKey = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim());
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${acceptKey}\r\n${offered.includes('AMQPWSB10') ? 'Sec-WebSocket-Protocol: AMQPWSB10\r\n' : ''}\r\n`,
    );
    const ws = serve(socket, `wss://${req.headers.host ?? ''}${req.url}`);
    accept(ws);
    if (head.length) socket.emit('data', head);
  });
  return server;
}
