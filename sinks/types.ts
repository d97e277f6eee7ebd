/**
 * The sink contract: the only module a sink imports.
 *
 * A sink encodes, sends and classifies. It never loops, sleeps, batches, retries or counts: the pipeline owns
 * batching, retry with backoff, dead-lettering and metrics, once, for every sink.
 */
import type { Logger } from 'pino';
import type { AlertRecord } from '../src/record/types.js';
import { PermanentError, RetryableError } from '../src/util/errors.js';

export type { AlertRecord };

export { PermanentError, RetryableError, classifyHttpStatus, parseRetryAfter } from '../src/util/errors.js';

/**
 * Per-record outcome of a partly failed batch: the records not listed were delivered. The pipeline dead-letters
 * the permanent ones and retries only the retryable ones.
 */
export interface SendResult {
  failed: Array<{ index: number; error: PermanentError | RetryableError }>;
}

export interface Sink {
  readonly name: string;
  readonly type: string;
  /** Connects; returns quickly. */
  start(): Promise<void>;
  /**
   * Delivers a batch. Resolving (with nothing, or a SendResult for partial failures) means every record not listed
   * as failed is acknowledged by the peer. Throwing applies to the whole batch: PermanentError → dead letter
   * (the pipeline bisects a batch of several records to isolate the offender), anything else → retry.
   */
  send(records: readonly AlertRecord[]): Promise<void | SendResult>;
  /** Idempotent, safe without start(); flushes and releases resources. */
  close(): Promise<void>;
  /**
   * False while the sink is paused by a condition only an operator can fix (a disabled or invalid token): the
   * pipeline then holds its records without spending their attempts, `/readyz` reports it, and
   * `alertbridge_sink_ready{sink}` is 0. Sinks without such a state leave it out.
   */
  ready?(): boolean;
  /** While `ready()` is false: why, in words for `/readyz` ("topic security-alerts does not exist"). */
  notReadyReason?(): string | undefined;
}

/** What a sink factory receives: its own validated config section, a logger, and the record's formats. */
export interface SinkContext<C> {
  config: C;
  logger: Logger;
  /** Formats a record per the sink's `format` (envelope | graph | ocsf) into a JSON-serializable value. */
  format: (record: AlertRecord) => unknown;
  /**
   * The same as JSON text: `JSON.stringify(format(record))`, but reusing the text the record was stored as when
   * the format allows (envelope, graph) — a record is then never parsed or serialized again on its way out. What a
   * sink puts on the wire.
   */
  encode: (record: AlertRecord) => string;
}

export type SinkFactory<C> = (ctx: SinkContext<C>) => Sink;

/**
 * One line of `alertbridge doctor`: a check, what it found, and for a failure what to do about it. `warn` is a
 * pass worth reading; `skip` says a check could not apply. Never a secret in `detail` or `fix`.
 */
export interface ProbeResult {
  check: string;
  status: 'pass' | 'warn' | 'fail' | 'skip';
  detail: string;
  fix?: string;
}

/** The fields of a record that come from the configuration (a doctor probe fills destination templates with them). */
export type ProbeSample = Pick<AlertRecord, 'source' | 'tenant_id' | 'resource'>;

/**
 * `alertbridge doctor` for one sink: is the peer reachable, does it take the credentials, does the destination
 * exist — each through a harmless call that writes nothing (the sink's `probe.ts`). Every call is bounded by
 * `timeoutMs`, so a dead endpoint cannot hang the doctor.
 */
export type SinkProbe<C> = (ctx: {
  config: C;
  logger: Logger;
  timeoutMs: number;
  /**
   * What the configuration says of the records that can reach the sink: one per Graph source and resource (their
   * `source`, `tenant_id`, `resource`), to fill a templated destination name in (kit/probe-names.ts).
   */
  samples: readonly ProbeSample[];
}) => Promise<ProbeResult[]>;
