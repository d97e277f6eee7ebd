/**
 * The `kafka` sink's two pauses, for conditions only an operator can fix and the same for every record: the brokers
 * refuse its credentials or ACLs, or its topic does not exist (auto-create off). The sink pauses instead of
 * dead-lettering (the pipeline holds the records without spending attempts, `/readyz` says why); the held
 * deliveries, retried every `auth_pause_ms`, are the probe, and the first that goes through resumes it.
 */
import type { Logger } from 'pino';
import { AuthPause } from '../kit.js';
import type { KafkaSinkConfig } from './config.js';
import { classifyKafkaError, isAuthFailure, rootCause } from './errors.js';

export class Refusals {
  private readonly pause: AuthPause;
  private readonly missingTopic: AuthPause;

  constructor(config: KafkaSinkConfig, logger: Logger) {
    this.pause = new AuthPause({
      pauseMs: config.auth_pause_ms,
      logger,
      fields: { brokers: config.brokers },
      until: 'the credentials are fixed',
      pausedLine: (why) =>
        `kafka '${config.name}' paused: the brokers refuse its credentials (${why}); records stay queued until it is fixed`,
      resumedLine: `kafka '${config.name}' resumed: the brokers accept its credentials`,
      readiness: (why) => `the brokers refuse its credentials: ${why}`,
    });
    this.missingTopic = new AuthPause({
      pauseMs: config.auth_pause_ms,
      logger,
      fields: { brokers: config.brokers },
      until: 'the topic exists',
      pausedLine: (why) =>
        `kafka '${config.name}' paused: ${why} (are topics auto-created on the brokers?); records stay queued until it is created`,
      resumedLine: `kafka '${config.name}' resumed: its topic exists`,
    });
  }

  get ready(): boolean {
    return !this.pause.paused && !this.missingTopic.paused;
  }

  get reason(): string | undefined {
    return this.pause.reason ?? this.missingTopic.reason;
  }

  /** A send went through: both pauses end. */
  accepted(): void {
    this.pause.accepted();
    this.missingTopic.accepted();
  }

  /**
   * The error of a failed send of `topics` (or of connecting, without topics), pausing the sink when the brokers
   * refuse its credentials or a topic does not exist.
   */
  classify(err: unknown, what: string, topics: string[] = []): Error {
    const root = rootCause(err);
    if (isAuthFailure(root)) {
      const why = `${root.message}${root.type ? ` [${root.type}]` : ''}`;
      this.pause.refused(why);
      return this.pause.refusal(`${what}: ${why}`, err);
    }
    if (root.type === 'UNKNOWN_TOPIC_OR_PARTITION' && topics.length > 0) {
      // kafkajs already asked again a few times (a topic being auto-created appears within them): it is not there.
      const why =
        topics.length === 1 ? `topic ${topics[0]} does not exist` : `one of topics ${topics.join(', ')} does not exist`;
      this.missingTopic.refused(why);
      return this.missingTopic.refusal(`${what}: ${why} [${root.type}]`, err);
    }
    return classifyKafkaError(err, what);
  }
}
