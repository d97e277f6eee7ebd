/**
 * Small HTTP helpers for the simulator: reading bodies, writing JSON, and the two error shapes clients must parse —
 * Graph's `{error: {code, message, innerError}}` and Entra ID's `{error, error_description, error_codes, …}`.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Largest request body accepted (PATCH and subscription bodies are small). */
const MAX_BODY_BYTES = 1024 * 1024;

/** A request body over {@link MAX_BODY_BYTES}: answered 413. */
export class BodyTooLargeError extends Error {
  override name = 'BodyTooLargeError';
}

/** A response decided by a handler, written once by the server (so the request log sees every status). */
export interface SimResponse {
  status: number;
  headers?: Record<string, string | string[]>;
  /** Objects are written as JSON; strings verbatim; undefined: no body. */
  body?: unknown;
  /** Extra facts for the request log. */
  log?: {
    resource?: string;
    provider?: string;
    fault?: string;
    items?: number;
    changed?: number;
    tenant?: string | null;
    clientId?: string;
  };
}

/** The parts of a request handlers need. */
export interface SimRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingMessage['headers'];
  /** `https://{Host}`: where absolute links (nextLink, metadata endpoints) point. */
  origin: string;
  rawBody: string;
  /** The simulator clock at arrival. */
  now: Date;
  requestId: string;
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLargeError(`request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function writeResponse(res: ServerResponse, r: SimResponse): void {
  const headers: Record<string, string | string[]> = { ...r.headers };
  let payload: string | undefined;
  if (typeof r.body === 'string') {
    payload = r.body;
    headers['content-type'] ??= 'text/plain; charset=utf-8';
  } else if (r.body !== undefined) {
    payload = JSON.stringify(r.body);
    headers['content-type'] ??=
      'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';
  }
  if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload));
  res.writeHead(r.status, headers);
  res.end(payload);
}

/** Graph's error body; `innerError` carries the date and request id as Graph does. */
export function graphError(
  req: SimRequest,
  status: number,
  code: string,
  message: string,
  headers?: Record<string, string>,
): SimResponse {
  return {
    status,
    headers: { ...graphHeaders(req), ...headers },
    body: {
      error: {
        code,
        message,
        innerError: {
          date: req.now.toISOString().slice(0, 19),
          'request-id': req.requestId,
          'client-request-id': clientRequestId(req),
        },
      },
    },
  };
}

/** Headers Graph puts on every response. */
export function graphHeaders(req: SimRequest): Record<string, string> {
  return {
    'request-id': req.requestId,
    'client-request-id': clientRequestId(req),
    'x-ms-ags-diagnostic': JSON.stringify({
      ServerInfo: { DataCenter: 'Simulator', Slice: 'E', Ring: '0', ScaleUnit: '000', RoleInstance: 'SIM' },
    }),
    'strict-transport-security': 'max-age=31536000',
  };
}

function clientRequestId(req: SimRequest): string {
  const h = req.headers['client-request-id'];
  return typeof h === 'string' && h ? h : req.requestId;
}

/** Entra ID (AAD STS) error body: `AADSTS{code}: …` plus trace and correlation ids, as MSAL expects to parse. */
export function aadError(
  req: SimRequest,
  status: number,
  error: string,
  code: number,
  description: string,
): SimResponse {
  const traceId = randomUUID();
  const correlationId =
    typeof req.headers['client-request-id'] === 'string' ? req.headers['client-request-id'] : randomUUID();
  const timestamp = `${req.now.toISOString().slice(0, 19).replace('T', ' ')}Z`;
  return {
    status,
    headers: { 'x-ms-request-id': traceId, 'cache-control': 'no-store, no-cache' },
    body: {
      error,
      error_description: `AADSTS${code}: ${description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
      error_codes: [code],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `${req.origin}/error?code=${code}`,
    },
  };
}

/** `a=b&c=d` (form or query) as a plain object; the last value of a repeated key wins. */
export function parseForm(text: string): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(text));
}
