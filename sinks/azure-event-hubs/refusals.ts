/**
 * What the `azure_event_hubs` sink does when the hub says no for reasons that are not the records' fault: a refused
 * key or token, a hub that does not exist, a connection setting that can never work. Errors are classified in
 * wire.ts; this decides what the sink does about them — pause (records held without spending attempts, `/readyz`
 * says why) or fail — and remembers a permanent refusal briefly.
 */
import type { EventHubProducerClient } from '@azure/event-hubs';
import type { Logger } from 'pino';
import { AuthPause, PermanentError, type RetryableError } from '../kit.js';
import type { EventHubsSinkConfig } from './config.js';
import { reset, type Hub } from './hubs.js';
import { errorCode, rootCause } from './wire.js';

/**
 * How long a refused key or hub is remembered: the pipeline bisects a batch that fails permanently (2n−1 sends to
 * find the offender), and without this each of those would wait for its own put-token refusal and SDK retry.
 */
const REFUSAL_MEMO_MS = 1000;

export class Refusals {
  private readonly auth: AuthPause;
  /**
   * The hub does not exist (`MessagingEntityNotFoundError`): an operator's job like a refused key, and the same for
   * every record, so the sink pauses instead of dead-lettering; the held deliveries, retried every `auth_pause_ms`
   * with a fresh client, are the probe, and the first that goes through resumes it.
   */
  private readonly missingHub: AuthPause;
  private memo: { error: Error; until: number } | undefined;

  /** @param templated the hub is a template of the records' fields: a missing one is one destination among many. */
  constructor(
    private readonly config: EventHubsSinkConfig,
    logger: Logger,
    private readonly templated: boolean,
  ) {
    this.auth = new AuthPause({
      pauseMs: config.auth_pause_ms,
      logger,
      until: 'the credentials are fixed',
      pausedLine: (why) =>
        `azure_event_hubs '${config.name}' paused: its credentials are refused (${why}); records stay queued until they are fixed`,
      resumedLine: `azure_event_hubs '${config.name}' resumed: the hub accepts its credentials`,
      readiness: (why) => `its credentials are refused: ${why}`,
    });
    this.missingHub = new AuthPause({
      pauseMs: config.auth_pause_ms,
      logger,
      until: 'the event hub exists',
      pausedLine: (why) => `azure_event_hubs '${config.name}' paused: ${why}; records stay queued until it is created`,
      resumedLine: `azure_event_hubs '${config.name}' resumed: its event hub exists`,
    });
  }

  get ready(): boolean {
    return !this.auth.paused && !this.missingHub.paused;
  }

  get reason(): string | undefined {
    return this.auth.reason ?? this.missingHub.reason;
  }

  /** Paused for the credentials: a delivery that fails now fails the whole batch (the same for every hub). */
  get credentialsRefused(): boolean {
    return this.auth.paused;
  }

  /** A delivery went through: both pauses end. */
  accepted(): void {
    this.auth.accepted();
    this.missingHub.accepted();
  }

  static isMissingHub(err: unknown): boolean {
    return errorCode(err) === 'MessagingEntityNotFoundError';
  }

  /**
   * A refused key or token is not the records' fault and the same for all of them: pause (the pipeline holds the
   * records without spending attempts) and try again after `auth_pause_ms`, with a fresh client that reads the
   * connection string (file) again.
   */
  pause(err: unknown, what: string, h: Hub, c: EventHubProducerClient | undefined): RetryableError {
    reset(h, c);
    const why = `${rootCause(err).message} [${errorCode(err)}]`;
    this.auth.refused(why);
    return this.auth.refusal(`${what}: ${why}`, err);
  }

  /**
   * No such hub: pause like `pause`, saying which hub. A hub named by a template is one destination among many: its
   * records are dead-lettered with the reason (replay them once it exists) and the other hubs go on.
   */
  pauseMissing(err: unknown, what: string, h: Hub, c: EventHubProducerClient | undefined): Error {
    reset(h, c);
    const name =
      h.name ??
      /(?:^|;)\s*EntityPath\s*=\s*([^;]+)/i.exec(this.config.connection_string ?? '')?.[1]?.trim() ??
      '(unnamed)';
    const why = `event hub ${name} does not exist`;
    if (this.templated) return new PermanentError(`${what}: ${why} [${errorCode(err)}]`, { cause: err });
    this.missingHub.refused(why);
    return this.missingHub.refusal(`${what}: ${why} [${errorCode(err)}]`, err);
  }

  /** A permanent refusal while connecting: remembered for REFUSAL_MEMO_MS. */
  remember(error: Error): void {
    if (error instanceof PermanentError) this.memo = { error, until: Date.now() + REFUSAL_MEMO_MS };
  }

  /** Throws the remembered refusal while it is fresh. */
  check(): void {
    if (this.memo && Date.now() < this.memo.until) throw this.memo.error;
  }
}
