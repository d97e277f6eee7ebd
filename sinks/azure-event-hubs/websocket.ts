/**
 * The WebSocket transport of the `azure_event_hubs` sink (`transport: websocket`, port 443 where 5671 is blocked):
 * rhea builds its socket with `new webSocket(url, protocols, options)`; undici's WebSocket takes the proxy as a
 * `dispatcher` instead, so a subclass passes the sink's one (CONNECT tunnel, TLS end to end and verified as without
 * a proxy).
 */
import type { WebSocketOptions } from '@azure/event-hubs';
import { WebSocket, type Dispatcher } from 'undici';

/**
 * @param through the sink's HTTP dispatcher (its `proxy_url` and `tls_ca`).
 * @param proxied whether `proxy_url` is set, to say in an error which way the socket went.
 */
export function proxiedWebSocket(through: Dispatcher, proxied: boolean): WebSocketOptions {
  const how = proxied ? 'through proxy_url' : 'directly or through HTTPS_PROXY (see NO_PROXY)';
  class ProxiedWebSocket extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, { protocols: protocols ?? [], dispatcher: through });
      // undici reports a failed handshake (a proxy refusing the tunnel, an unreachable namespace) as a TypeError
      // with an empty message, which would read as a bug: rhea's error handler gets an error that says where.
      let opened = false;
      this.addEventListener('open', () => (opened = true));
      const onerror = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onerror')!;
      Object.defineProperty(this, 'onerror', {
        get: () => onerror.get!.call(this) as unknown,
        set: (handler: ((e: unknown) => void) | null) =>
          onerror.set!.call(
            this,
            handler &&
              ((e: { error?: Error; message?: string }) => {
                const why =
                  e.error?.message ||
                  (e instanceof Error ? e.message : '') ||
                  (opened ? 'the connection was lost' : 'refused or closed before the handshake completed');
                handler(
                  Object.assign(new Error(`WebSocket to ${String(url)} (${how}) failed: ${why}`), {
                    code: 'WebSocketConnectionError',
                  }),
                );
              }),
          ),
      });
    }
  }
  return { webSocket: ProxiedWebSocket as unknown as WebSocketOptions['webSocket'] };
}
