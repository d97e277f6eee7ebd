/**
 * What the `azure_event_hubs` sink puts on the wire (one event per record, CONTRACT.md) and how it reads what comes
 * back (`@azure/event-hubs` errors).
 */
import { createHash } from 'node:crypto';
import type { EventData } from '@azure/event-hubs';
import { isEntraRefusal, PermanentError, RetryableError, type AlertRecord } from '../kit.js';

/** Event Hubs refuses longer message ids. */
const MAX_MESSAGE_ID = 128;

/**
 * Body = the formatted record as JSON text (`encode`); application properties = the five `alertbridge-*` headers; `messageId` =
 * `key@revision`, or `sha256:<hex>` of it when longer than Event Hubs allows, so consumers can drop duplicates.
 * The partition key (= `key`) is the batch's.
 */
export function toEvent(r: AlertRecord, text: string): EventData {
  const id = `${r.key}@${r.revision}`;
  return {
    body: Buffer.from(text),
    contentType: 'application/json',
    messageId: id.length <= MAX_MESSAGE_ID ? id : `sha256:${createHash('sha256').update(id).digest('hex')}`,
    properties: {
      'alertbridge-key': r.key,
      'alertbridge-revision': r.revision,
      'alertbridge-resource': r.resource,
      'alertbridge-provider': r.provider,
      'alertbridge-tenant': r.tenant_id,
    },
  };
}

/*
 * Errors. The SDK's own `retryable` flag is not the answer: it marks `UnauthorizedError` retryable (a token may be
 * renewed mid-flight), and after its retries it throws an `AggregateError` of every attempt. A key that is wrong
 * stays wrong, so what a person must fix is permanent here; the rest (busy, timeouts, a lost connection, anything
 * unknown) is retryable.
 */

/** Error codes (`MessagingError.code`, or an error's `name`) that retrying the same records cannot cure. */
const PERMANENT_CODES = new Set([
  'UnauthorizedError', // bad key or token, missing Send claim (CBS 401); the sink pauses on it (isAuthFailure)
  'PublisherRevokedError',
  'MessagingEntityNotFoundError', // no such hub (CBS 404); the sink pauses on it instead (an operator creates it)
  'MessagingEntityDisabledError',
  'MessageTooLargeError', // amqp:link:message-size-exceeded
  'MessageSizeExceededError',
  'ArgumentError',
  'ArgumentOutOfRangeError',
  'InvalidFieldError',
  'DecodeError',
]);

type SdkError = Error & { code?: string; retryable?: boolean; statusCode?: number; errors?: unknown[] };

/** The error that says what happened: the last attempt of the SDK's `AggregateError`. */
export function rootCause(err: unknown): SdkError {
  let e = err as SdkError;
  while (e instanceof AggregateError && e.errors.length > 0) e = e.errors[e.errors.length - 1] as SdkError;
  return e instanceof Error ? e : new Error(String(err));
}

/** The SDK code of an error (`ServerBusyError`, `UnauthorizedError`, …), else its name. */
export function errorCode(err: unknown): string {
  const root = rootCause(err);
  return root.code ?? root.name;
}

/**
 * The hub refuses the key or token (bad or revoked key, missing Send claim), or Entra ID refuses the app: a
 * condition only an operator can fix, the same for every record.
 */
export function isAuthFailure(err: unknown): boolean {
  return errorCode(err) === 'UnauthorizedError' || isEntraRefusal(rootCause(err));
}

/**
 * Permanent or retryable, with a message naming the action (`what`). Entra ID refusing the app's credentials
 * (`AuthenticationError` 400/401/403) is permanent too; Entra being down is not. TypeError/ReferenceError stay as
 * they are: the pipeline treats them as bugs.
 */
export function classifyEventHubsError(err: unknown, what: string): Error {
  if (err instanceof PermanentError || err instanceof RetryableError) return err;
  const root = rootCause(err);
  if ((root instanceof TypeError || root instanceof ReferenceError) && root.code === undefined) return root;
  const code = errorCode(err);
  const message = `${what}: ${root.message || code} [${code}]`;
  if (PERMANENT_CODES.has(code) || isEntraRefusal(root)) return new PermanentError(message, { cause: err });
  return new RetryableError(message, { cause: err });
}
