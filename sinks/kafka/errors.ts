/**
 * What a kafkajs error means for the `kafka` sink's records. kafkajs's own `retriable` flag is only part of the
 * answer: its retrier wraps the real error when it gives up (and the wrapper says `retriable: false`), and some
 * errors it calls final are cured by a fresh producer. The decisions that change the sink's state (pausing for
 * refused credentials or a missing topic) are refusals.ts's; this file only reads errors.
 */
import { PermanentError, RetryableError } from '../kit.js';
import { CREDENTIALS_REFUSED } from './client.js';

/** The record or topic can never be accepted: retrying the same records cannot succeed. */
const PERMANENT_TYPES = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'INVALID_TOPIC_EXCEPTION',
  'POLICY_VIOLATION',
  'UNSUPPORTED_COMPRESSION_TYPE',
]);
/**
 * The brokers refuse who we are or what we may do. Not the records' fault, and the same for every record: the sink
 * pauses (records held, no attempts spent) until an operator fixes the credentials or ACLs (peers-lessons #7).
 */
const AUTH_TYPES = new Set([
  'SASL_AUTHENTICATION_FAILED',
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'UNSUPPORTED_SASL_MECHANISM',
  'ILLEGAL_SASL_STATE',
]);
/** Thrown by kafkajs for every SASL failure (wrong password, unsupported mechanism), and by our token provider. */
const AUTH_NAMES = new Set(['KafkaJSSASLAuthenticationError', CREDENTIALS_REFUSED]);
/** Idempotent-producer state errors, final for kafkajs but cured by a fresh producer (which the next send gets). */
const PRODUCER_STATE_TYPES = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'DUPLICATE_SEQUENCE_NUMBER',
  'INVALID_PRODUCER_EPOCH',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_ID_MAPPING',
]);
/** kafkajs wraps the real error in these when its retrier gives up; the wrapper's `retriable: false` says nothing. */
const WRAPPERS = new Set(['KafkaJSNumberOfRetriesExceeded', 'KafkaJSNonRetriableError']);

export type KafkaError = Error & { retriable?: boolean; type?: string };

/** The kafkajs error that says what happened, under the retrier's wrappers. */
export function rootCause(err: unknown): KafkaError {
  if (!(err instanceof Error)) return new Error(String(err));
  let e: KafkaError = err;
  while (WRAPPERS.has(e.name) && e.cause instanceof Error && e.cause !== e) e = e.cause as KafkaError;
  return e;
}

/** The brokers (or Entra ID, for OAUTHBEARER) refuse the sink's credentials or ACLs. */
export const isAuthFailure = (root: KafkaError): boolean =>
  AUTH_NAMES.has(root.name) || (root.type !== undefined && AUTH_TYPES.has(root.type));

/**
 * Permanent or retryable, with a message naming the action (`what`), for an error that is neither a refusal of
 * the credentials nor a missing topic. TypeError/ReferenceError stay as they are: the pipeline treats them as bugs.
 */
export function classifyKafkaError(err: unknown, what: string): Error {
  const root = rootCause(err);
  if (root instanceof PermanentError || root instanceof RetryableError) return root;
  if ((root instanceof TypeError || root instanceof ReferenceError) && root.retriable === undefined) return root;
  const message = `${what}: ${root.message}${root.type ? ` [${root.type}]` : ''}`;
  if (root.type && PRODUCER_STATE_TYPES.has(root.type)) return new RetryableError(message, { cause: err });
  if ((root.type && PERMANENT_TYPES.has(root.type)) || root.retriable === false)
    return new PermanentError(message, { cause: err });
  return new RetryableError(message, { cause: err });
}
