/**
 * A `splunk_hec` delivery as HEC events and requests. Each record becomes one HEC event: its metadata (time, host,
 * source, sourcetype, index — the last two possibly templates of the record's fields), then the formatted record's
 * text spliced in as `event`, never re-serialized. The events are cut into requests by `max_events` and
 * `max_bytes`: that is encoding, not batching — HEC refuses what is too big.
 */
import { hostname } from 'node:os';
import {
  NameTemplate,
  PermanentError,
  SPLUNK_INDEX,
  SPLUNK_SOURCETYPE,
  type AlertRecord,
  type RetryableError,
} from '../kit.js';
import type { SplunkHecSinkConfig } from './config.js';

export type Failure = PermanentError | RetryableError;

/** One `send`: its encoded events, per-record failures, and its ackIds (sends run concurrently; only the pause is shared). */
export interface SendState {
  events: string[];
  failed: Map<number, Failure>;
  acks: Array<{ ackId: number; idx: number[] }>;
  /** A refusal was pinned on single events by halving: bisecting the batch again would only resend. */
  isolated: boolean;
}

const epochSeconds = (iso: string | null): number | undefined => {
  const ms = iso === null ? NaN : Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms / 1000;
};

const rendered = (template: NameTemplate, r: AlertRecord): string => {
  const out = template.render(r);
  if (!out.ok) throw new Error(out.reason);
  return out.name;
};

export class HecEvents {
  private readonly host: string;
  /** `index` and `sourcetype` of each record (the same for all unless they are templates of its fields). */
  private readonly indexTemplate: NameTemplate | undefined;
  private readonly sourcetypeTemplate: NameTemplate;
  /** `index` is a template: an incorrect index (HEC code 7) is then the named event's only. */
  readonly indexTemplated: boolean;

  /** @param encodeRecord the formatted record as JSON text (the sink context's `encode`). */
  constructor(
    private readonly config: SplunkHecSinkConfig,
    private readonly encodeRecord: (r: AlertRecord) => string,
    private readonly action: string,
  ) {
    this.host = config.host ?? hostname();
    this.indexTemplate = config.index !== undefined ? NameTemplate.of(config.index, SPLUNK_INDEX) : undefined;
    this.indexTemplated = (this.indexTemplate?.fields.length ?? 0) > 0;
    this.sourcetypeTemplate = NameTemplate.of(config.sourcetype, SPLUNK_SOURCETYPE);
  }

  /** The HEC event: its metadata, then the formatted record's text spliced in as `event` (never re-serialized). */
  encode(r: AlertRecord): string {
    const { config, indexTemplate } = this;
    const meta = JSON.stringify({
      time: epochSeconds(r.updated_at) ?? epochSeconds(r.ingested_at),
      host: this.host,
      source: config.source ?? `alertbridge:${r.source}`,
      sourcetype: rendered(this.sourcetypeTemplate, r),
      ...(indexTemplate ? { index: rendered(indexTemplate, r) } : {}),
    });
    const fields = JSON.stringify({ tenant_id: r.tenant_id, provider: r.provider, resource: r.resource });
    return `${meta.slice(0, -1)},"event":${this.encodeRecord(r)},"fields":${fields}}`;
  }

  /**
   * Encodes the records into `st.events` and cuts them into requests (indices into `records`). A record that cannot
   * be encoded, or whose event alone is over `max_bytes`, fails alone, permanently.
   */
  requests(records: readonly AlertRecord[], st: SendState): number[][] {
    const { max_events: maxEvents, max_bytes: maxBytes } = this.config;
    const action = this.action;
    // Cut into requests by max_events and max_bytes (events are joined by '\n'; -1: the first one has no separator).
    let current: number[] = [];
    const requests = [current];
    let bytes = -1;
    records.forEach((r, i) => {
      try {
        st.events[i] = this.encode(r);
      } catch (cause) {
        return st.failed.set(
          i,
          new PermanentError(`${action}: cannot encode record ${r.key}: ${(cause as Error).message}`, { cause }),
        );
      }
      const size = Buffer.byteLength(st.events[i]!);
      if (size > maxBytes)
        return st.failed.set(
          i,
          new PermanentError(`${action}: event of ${size} bytes exceeds max_bytes (${maxBytes})`),
        );
      if (current.length && (current.length >= maxEvents || bytes + 1 + size > maxBytes)) {
        requests.push((current = []));
        bytes = -1;
      }
      current.push(i);
      bytes += 1 + size;
    });
    return requests.filter((q) => q.length);
  }
}
