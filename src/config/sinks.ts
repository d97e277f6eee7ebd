/**
 * Schemas of the sinks: where records go (CONTRACT.md "Configuration", "The record"). Each sink states its own
 * fields and defaults in sinks/<type>/config.ts; the registry collects them into the union, the one place a sink's
 * type meets the config.
 */
import { z } from 'zod';
import { SINK_SCHEMAS, SINKS } from '../../sinks/registry.js';

export { SinkCommonSchema, SinkFilterSchema } from './sink-common.js';

export const SplunkHecSinkSchema = SINKS.splunk_hec.schema;
export const KafkaSinkSchema = SINKS.kafka.schema;
export const EventHubsSinkSchema = SINKS.azure_event_hubs.schema;

export const SinkSchema = z.discriminatedUnion('type', SINK_SCHEMAS).describe('A destination for records, by `type`.');
