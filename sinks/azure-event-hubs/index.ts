/**
 * `azure_event_hubs` sink: one event per record, published with `@azure/event-hubs` (`EventHubProducerClient`).
 *
 * Body = the formatted record (JSON, `contentType: application/json`); partition key = the record `key`, so every
 * revision of an alert lands on one partition, in order; application properties `alertbridge-key`, `-revision`,
 * `-resource`, `-provider`, `-tenant` (CONTRACT.md); `messageId` = `key@revision` (or `sha256:<hex>` of it when
 * longer than the 128 characters Event Hubs allows), so consumers can drop duplicates.
 *
 * An Event Hubs batch carries one partition key, so a delivery becomes one batch per distinct key (more when a
 * key's events exceed `max_batch_bytes`). Those batches are built first, then sent over the one AMQP link: the keys
 * at once, so the round trips overlap instead of adding up (docs/event-hubs.md has the figures), and the batches of
 * one key one after another, so its revisions arrive in order.
 *
 * This file is the sink's story; the pieces live beside it: the producer clients and their batch limit
 * (producers.ts, websocket.ts), one client per hub with its LRU bound (hubs.ts), batch building (batches.ts),
 * sending in key order (send.ts), what a refusal does to the sink (refusals.ts), the wire format and error
 * classification (wire.ts).
 */
import type { EventHubProducerClient } from '@azure/event-hubs';
import {
  destinationOf,
  EVENT_HUB_NAME,
  Lifecycle,
  NameTemplate,
  PermanentError,
  RetryableError,
  type AlertRecord,
  type SendResult,
  type Sink,
  type SinkContext,
} from '../kit.js';
import { build, groupBy, type Group } from './batches.js';
import { Hubs, type Hub } from './hubs.js';
import { Producers, type EventHubsSinkOptions } from './producers.js';
import { Refusals } from './refusals.js';
import { sendInOrder } from './send.js';
import { classifyEventHubsError, isAuthFailure } from './wire.js';

export type { EventHubsSinkConfig } from './config.js';
export type { EventHubsSinkOptions, EventHubsTuning } from './producers.js';

export interface EventHubsSink extends Sink {
  /**
   * False while the hub (or Entra ID) refuses the credentials, or the hub does not exist: for `/readyz` (with
   * `notReadyReason`) and `alertbridge_sink_ready`.
   */
  ready(): boolean;
  notReadyReason(): string | undefined;
}

export const createEventHubsSink = ({ config, logger, encode }: SinkContext<EventHubsSinkOptions>): EventHubsSink => {
  /** The hub of each record: one for all, or a template of their fields (`{tenant}-alerts`). */
  const hubTemplate = config.event_hub_name.includes('{')
    ? NameTemplate.of(config.event_hub_name, EVENT_HUB_NAME)
    : undefined;
  const templated = hubTemplate !== undefined;
  const hubs = new Hubs(config.max_hub_clients);
  const producers = new Producers(config, logger);
  const refusals = new Refusals(config, logger, templated);
  const sender = { sinkName: config.name, logger, producers };
  const life = new Lifecycle(`azure_event_hubs sink '${config.name}'`);

  /** Delivers records to one hub. */
  const deliverTo = async (h: Hub, records: readonly AlertRecord[]): Promise<void | SendResult> => {
    const failed: SendResult['failed'] = [];
    let groups: Group[];
    let c: EventHubProducerClient | undefined;
    try {
      c = producers.client(h);
      groups = await build(c, records, await producers.batchLimit(h, c), failed, encode, config.name);
    } catch (err) {
      const what = `connecting azure_event_hubs sink '${config.name}' to ${templated ? `hub ${h.name}` : 'its hub'}`;
      if (isAuthFailure(err)) throw refusals.pause(err, what, h, c);
      if (Refusals.isMissingHub(err)) throw refusals.pauseMissing(err, what, h, c);
      const error = classifyEventHubsError(err, what);
      refusals.remember(error);
      throw error;
    }
    const oversize = failed.length;
    // Batches of one partition key go one after another, so its revisions arrive in order; different keys go at once.
    const byKey = groupBy(groups, (g) => g.key);
    const errors = (await Promise.all([...byKey.values()].map((list) => sendInOrder(sender, h, c!, list, failed))))
      .flat()
      .filter((e) => e !== undefined);
    // Nothing went, and only for reasons worth retrying (busy, network): a failure of the whole batch. Permanent
    // failures stay per record: the pipeline then dead-letters exactly those, without bisecting.
    if (
      errors.length === groups.length &&
      errors.length > 0 &&
      oversize === 0 &&
      errors.every((e) => e instanceof RetryableError)
    )
      throw errors[0]!;
    if (errors.length < groups.length) refusals.accepted();
    return failed.length ? { failed } : undefined;
  };

  /**
   * Delivers a batch: to its one hub, or with a template to the hub of each record, the hubs at once. A record whose
   * hub name is invalid is dead-lettered with the reason; a refused credential (the namespace's, the same for every
   * hub) fails the whole batch, which pauses the sink.
   */
  const deliver = async (records: readonly AlertRecord[]): Promise<void | SendResult> => {
    refusals.check();
    if (!hubTemplate) {
      const h = hubs.get(config.event_hub_name || undefined);
      return hubs.use(h, () => deliverTo(h, records));
    }
    const failed: SendResult['failed'] = [];
    const byHub = new Map<string, number[]>();
    records.forEach((r, index) => {
      const hub = destinationOf(hubTemplate, r, `azure_event_hubs sink '${config.name}'`);
      if (hub.error) failed.push({ index, error: hub.error });
      else (byHub.get(hub.name) ?? byHub.set(hub.name, []).get(hub.name)!).push(index);
    });
    let refused: Error | undefined;
    await Promise.all(
      [...byHub].map(async ([name, indices]) => {
        const h = hubs.get(name);
        try {
          const res = await hubs.use(h, () =>
            deliverTo(
              h,
              indices.map((i) => records[i]!),
            ),
          );
          for (const f of res?.failed ?? []) failed.push({ index: indices[f.index]!, error: f.error });
        } catch (err) {
          if (refusals.credentialsRefused) refused ??= err as Error;
          const error =
            err instanceof PermanentError || err instanceof RetryableError
              ? err
              : new RetryableError((err as Error).message, { cause: err });
          for (const index of indices) failed.push({ index, error });
        }
      }),
    );
    if (refused) throw refused;
    return failed.length ? { failed: failed.sort((a, b) => a.index - b.index) } : undefined;
  };

  const sink: EventHubsSink = {
    name: config.name,
    type: 'azure_event_hubs',
    ready: () => refusals.ready,
    notReadyReason: () => refusals.reason,
    /** Checks the settings, then opens the link in the background: a hub that is unreachable must not stop the daemon. */
    async start() {
      // With a template, the hubs are known from the records: each client opens at its first delivery.
      if (templated) return;
      const h = hubs.get(config.event_hub_name || undefined);
      const c = producers.client(h);
      life.background(
        () => producers.batchLimit(h, c),
        (err: unknown) => {
          if (isAuthFailure(err)) refusals.pause(err, 'connecting', h, c);
          else if (Refusals.isMissingHub(err)) refusals.pauseMissing(err, 'connecting', h, c);
          else
            logger.warn(
              { err: classifyEventHubsError(err, 'connecting').message },
              'connecting to event hubs failed; trying again on the first delivery',
            );
        },
      );
    },
    send: (records) => life.track(() => deliver(records)),
    close() {
      return life.close(async () => {
        await hubs.close((err: unknown) => logger.warn({ err }, 'closing the event hubs client failed'));
        await producers.close();
      });
    },
  };
  return sink;
};

/** The registry's name for this sink's factory. */
export const create = createEventHubsSink;
