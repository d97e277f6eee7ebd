/**
 * Outbound HTTP through a proxy, for Graph (and its token endpoint) and the HTTP sinks: a component's own
 * `proxy_url`, else the standard `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` environment (either case), as curl and
 * most tools read them. undici tunnels with CONNECT, so TLS stays end to end: the target's certificate is verified
 * (with the component's extra CA) exactly as without a proxy, and the proxy sees host names, never bodies or tokens.
 */
import { EnvHttpProxyAgent, ProxyAgent, type Dispatcher } from 'undici';

export interface DispatcherOptions {
  /** `http://[user:password@]host:port` (or https://); credentials go in `Proxy-Authorization`. */
  proxyUrl?: string;
  /** Trusted CAs of the target (not of the proxy). */
  ca?: string[];
  rejectUnauthorized?: boolean;
  connections?: number;
  keepAliveTimeout?: number;
}

export function httpDispatcher(o: DispatcherOptions): Dispatcher {
  const tls = {
    ...(o.ca ? { ca: o.ca } : {}),
    ...(o.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
  };
  const pool = {
    ...(o.connections ? { connections: o.connections } : {}),
    ...(o.keepAliveTimeout ? { keepAliveTimeout: o.keepAliveTimeout } : {}),
  };
  if (o.proxyUrl) return new ProxyAgent({ ...pool, uri: o.proxyUrl, requestTls: tls });
  // Without any proxy variable set, this is a plain Agent.
  return new EnvHttpProxyAgent({ ...pool, connect: tls, requestTls: tls });
}

/** Text (an error message) with the user and password of any URL in it replaced. */
export function redactUrlsIn(text: string): string {
  return text.replace(/\/\/[^\s/@]+@/g, '//***@');
}
