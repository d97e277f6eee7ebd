/**
 * The fields every sink has (identity, format, filter, and the pipeline's batching, retry and dead-letter settings),
 * shared by the sinks' own schemas (sinks/<type>/config.ts, through sinks/kit.ts) and src/config/sinks.ts.
 */
import { z } from 'zod';
import { HEALTH, RESOURCES, STREAMING_RESOURCE, SYNC_OUTCOMES } from '../record/types.js';

const FILTER_RESOURCES = [...RESOURCES, SYNC_OUTCOMES, HEALTH] as const;
const unknownResource = (issue: { input?: unknown }): string =>
  `must be one of ${FILTER_RESOURCES.join(', ')}, streaming/<Table> or streaming/* (got ${typeof issue.input === 'string' ? JSON.stringify(issue.input) : typeof issue.input})`;
import { componentName, count, crossCheck, millis } from './fields.js';

export const SinkFilterSchema = z
  .strictObject({
    min_severity: z
      .enum(['informational', 'low', 'medium', 'high'])
      .optional()
      .describe('Only records at least this severe. Records of `unknown` severity pass only when this is unset.'),
    resources: z
      .array(
        z.union([
          z.enum(FILTER_RESOURCES, { error: unknownResource }),
          z.string().regex(STREAMING_RESOURCE, { error: unknownResource }),
        ]),
      )
      .min(1)
      .optional()
      .describe(
        'Only records of these Graph resources. `sync_outcomes` opts the sink in to write-back outcome records (`schema: alertbridge.sync_outcome/v1`, docs/sync.md), `health` to health records (`schema: alertbridge.health/v1`, docs/health.md), and `streaming/<Table>` (or `streaming/*`) to rows of streamed Advanced Hunting tables (`defender_streaming` `tables:`), which no sink receives otherwise.',
      ),
    providers: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('Only records whose `provider` is one of these (e.g. `microsoftDefenderForEndpoint`).'),
    sources: z.array(z.string().min(1)).min(1).optional().describe('Only records ingested by these sources (by name).'),
  })
  .describe('Which records this sink receives. Default: all. Conditions combine with AND.');

/** Fields every sink has: identity, format, and the pipeline's batching, retry and dead-letter settings. */
export const sinkCommonShape = {
  name: componentName('sink'),
  format: z
    .enum(['envelope', 'graph', 'ocsf'])
    .default('envelope')
    .describe(
      'Record format: `envelope` (alertbridge.record/v1 JSON), `graph` (the Graph object verbatim) or `ocsf` (OCSF Detection Finding, class 2004; write-back outcomes as API Activity 6003, health records as Application Error 6008).',
    ),
  filter: SinkFilterSchema.optional(),
  batch: z
    .strictObject({
      max_records: count(500, 1, 10_000, 'Most records handed to the sink in one delivery.'),
    })
    .prefault({})
    .describe('Batching of deliveries.'),
  retry: z
    .strictObject({
      max_attempts: count(10, 1, 1000, 'Delivery attempts before a record is dead-lettered.'),
      initial_backoff_ms: millis(1000, 'Wait before the first retry; doubles (with jitter) on each further attempt.'),
      max_backoff_ms: millis(300_000, 'Longest wait between attempts. A `Retry-After` from the peer is honoured.'),
    })
    .superRefine(
      ...crossCheck((value, addIssue) => {
        const { initial_backoff_ms: initial, max_backoff_ms: max } = value;
        if (typeof initial === 'number' && typeof max === 'number' && initial > max) {
          addIssue(['initial_backoff_ms'], `must not exceed max_backoff_ms (${max})`);
        }
      }),
    )
    .prefault({})
    .describe('Retry of failed deliveries (retryable errors only; permanent errors dead-letter at once).'),
  concurrency: count(1, 1, 64, 'Deliveries in flight at once for this sink.'),
  dead_letter: z
    .strictObject({
      max_entries: count(
        100_000,
        1,
        100_000_000,
        'Most dead letters kept. Nothing is ever dropped: once full, records that fail for good stay in the sink queue (tried again at least 30 s apart), `alertbridge_dead_letter_full_total` counts it and an error is logged, until `alertbridge dlq replay` or `purge` makes room.',
      ),
      report_window_ms: millis(
        300_000,
        'Dead letters as health records (docs/health.md): the first dead letter raises a `dead_letters` condition for this sink, and once none was added for this long it is cleared with the count; one pair of records per burst, never one per dead letter.',
        { min: 1000 },
      ),
    })
    .prefault({})
    .describe('Dead-letter queue of records that could not be delivered.'),
};

/** How often a sink whose credentials the peer refuses tries again; it holds its records meanwhile. */
export function authPauseMs(refusal: string) {
  return millis(
    60_000,
    `While ${refusal}, the sink pauses: records stay queued without spending attempts, /readyz is false, \`alertbridge_sink_ready\` is 0, and delivery is retried this often (secret files are re-read each time).`,
    { min: 100 },
  );
}

/** The common fields alone, for `SinkCommonConfig`. */
export const SinkCommonSchema = z.strictObject(sinkCommonShape);
