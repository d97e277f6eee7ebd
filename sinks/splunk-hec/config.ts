/** Config of the `splunk_hec` sink: its fields and defaults, the only place they are stated. */
import { z } from 'zod';
import {
  checkProxyUrl,
  count,
  crossCheck,
  filePath,
  hasSecret,
  httpUrl,
  millis,
  nameTemplate,
  proxyUrlPair,
  secretPair,
  sinkCommonShape,
  SPLUNK_INDEX,
  SPLUNK_SOURCETYPE,
} from '../kit.js';

export const SplunkHecSinkSchema = z
  .strictObject({
    type: z.literal('splunk_hec').describe('Splunk HTTP Event Collector.'),
    ...sinkCommonShape,
    url: httpUrl('HEC base URL, e.g. `https://splunk.example.com:8088`.'),
    ...secretPair('token', 'HEC token.'),
    index: nameTemplate(
      SPLUNK_INDEX,
      "Splunk index, e.g. `security` or `cust_{tenant}` (lowercased per record). Default: the token's default index (which must allow every index a template names).",
    ).optional(),
    sourcetype: nameTemplate(SPLUNK_SOURCETYPE, 'Splunk `sourcetype` of each event.').default('alertbridge:record'),
    source: z
      .string()
      .min(1)
      .optional()
      .describe('Splunk `source` of each event. Default: `alertbridge:{source name}`.'),
    host: z.string().min(1).optional().describe("Splunk `host` of each event. Default: this machine's host name."),
    gzip: z.boolean().default(false).describe('Compress request bodies with gzip.'),
    ca_file: filePath('Extra trusted CA certificates (PEM) for `url`.').optional(),
    tls_verify: z
      .boolean()
      .default(true)
      .describe('Verify the HEC server certificate. Turn off only for testing; prefer `ca_file`.'),
    ...proxyUrlPair('the HEC requests'),
    max_events: count(500, 1, 100_000, 'Most events per HEC request; larger batches are split.'),
    max_bytes: count(
      1_000_000,
      1024,
      1_000_000_000,
      'Largest HEC request body (before gzip); larger batches are split.',
    ),
    request_timeout_ms: millis(30_000, 'Timeout of one HEC request.'),
    auth_pause_ms: millis(
      60_000,
      'While HEC refuses the token (401/403), the sink pauses: records stay queued without spending attempts, /readyz is false, and HEC is asked again at most this often, by one delivery for all queued batches (token_file is re-read each time).',
      { min: 100 },
    ),
    ack: z
      .strictObject({
        enabled: z
          .boolean()
          .default(false)
          .describe('Wait for indexer acknowledgement before a delivery counts (the token must have it enabled).'),
        timeout_ms: millis(300_000, 'How long to wait for an acknowledgement before resending the batch.'),
        poll_interval_ms: millis(1000, 'Time between acknowledgement status checks.'),
      })
      .prefault({})
      .describe('HEC indexer acknowledgement.'),
  })
  .superRefine(
    ...crossCheck((value, addIssue) => {
      if (!hasSecret(value, 'token')) addIssue(['token'], 'required (or token_file)');
      checkProxyUrl(value, addIssue);
    }),
  );

export type SplunkHecSinkConfig = z.output<typeof SplunkHecSinkSchema>;
/** What a caller building the sink without the loader (tests, benchmarks) writes: the config before defaults. */
export type SplunkHecSinkOptions = Omit<z.input<typeof SplunkHecSinkSchema>, 'type'>;

/** The registry's name for this sink's schema. */
export const schema = SplunkHecSinkSchema;
