/**
 * The Defender XDR Streaming API's event shape, as Microsoft sends it to an Event Hub: one event body holds
 * `{"records": [{ "time", "tenantId", "operationName": "Publish", "category": "AdvancedHunting-<Table>",
 * "properties": { …the Advanced Hunting table's columns… } }]}`.
 *
 * `AlertInfo` and `AlertEvidence` records become triggers (tenant, alert id): the alert itself is then read from
 * Graph, the source of truth (AlertInfo lacks status, assignment, classification and incident). Records of other
 * tables pass through as raw records when the source's `tables:` allow-list names them, identified by the table's
 * natural identity where it has one, else by a hash of their content. Everything else — a body that is not that
 * JSON, a record without a usable tenant, category or alert id, an unknown tenant, an oversized event — is counted and
 * skipped with a reason, never thrown: one bad event must not stop a partition.
 */
import { createHash } from 'node:crypto';
import { RECORD_SCHEMA, type AlertRecord } from '../../record/types.js';

/** Tables whose records name an alert to fetch from Graph. */
export const ALERT_TABLES = ['AlertInfo', 'AlertEvidence'] as const;
export type AlertTable = (typeof ALERT_TABLES)[number];

const CATEGORY_PREFIX = 'AdvancedHunting-';
/** Advanced Hunting table names: letters and digits (`DeviceProcessEvents`, `EmailUrlInfo`, …). */
const TABLE_NAME = /^[A-Za-z][A-Za-z0-9]{0,99}$/;
/** A tenant id is a GUID. */
const TENANT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Defender alert ids: `da637551227677560813_-961444813`, `ed…`, `fa…`, `aa…` — letters, digits, `_ - . :`. */
const ALERT_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$/;
/** An id readable as is in a record key (no `/`, no spaces, bounded). */
const SAFE_ID = /^[A-Za-z0-9_.:@|+=-]{1,256}$/;

/**
 * The columns that identify one row of a table, where the table has such an identity (Microsoft's schema reference:
 * device tables are identified by the reporting device and its report id at a time; mail by the message and its
 * recipient; identity and cloud-app events by their report id). Other tables are identified by a content hash.
 */
export const NATURAL_KEYS: Readonly<Record<string, readonly string[]>> = {
  DeviceProcessEvents: ['DeviceId', 'ReportId', 'Timestamp'],
  DeviceNetworkEvents: ['DeviceId', 'ReportId', 'Timestamp'],
  DeviceFileEvents: ['DeviceId', 'ReportId', 'Timestamp'],
  DeviceRegistryEvents: ['DeviceId', 'ReportId', 'Timestamp'],
  DeviceLogonEvents: ['DeviceId', 'ReportId', 'Timestamp'],
  DeviceImageLoadEvents: ['DeviceId', 'ReportId', 'Timestamp'],
  DeviceEvents: ['DeviceId', 'ReportId', 'Timestamp'],
  DeviceFileCertificateInfo: ['DeviceId', 'ReportId', 'Timestamp'],
  DeviceInfo: ['DeviceId', 'ReportId', 'Timestamp'],
  DeviceNetworkInfo: ['DeviceId', 'ReportId', 'Timestamp'],
  EmailEvents: ['NetworkMessageId', 'RecipientEmailAddress'],
  EmailAttachmentInfo: ['NetworkMessageId', 'RecipientEmailAddress', 'SHA256'],
  EmailUrlInfo: ['NetworkMessageId', 'Url'],
  EmailPostDeliveryEvents: ['NetworkMessageId', 'RecipientEmailAddress', 'Action', 'Timestamp'],
  IdentityLogonEvents: ['ReportId', 'Timestamp'],
  IdentityQueryEvents: ['ReportId', 'Timestamp'],
  IdentityDirectoryEvents: ['ReportId', 'Timestamp'],
  CloudAppEvents: ['ReportId', 'Timestamp'],
};

/** An alert to read from Graph because the stream mentioned it. */
export interface StreamTrigger {
  tenantId: string;
  alertId: string;
  table: AlertTable;
  /** The record's `Timestamp` (or its `time`), as sent. */
  time: string | undefined;
}

/** A record of an allow-listed table, passed through as a record of its own kind. */
export interface StreamRow {
  tenantId: string;
  table: string;
  /** The natural identity (readable, or `sha256:` of it when it holds unsafe characters), else `sha256:` of content. */
  id: string;
  /** `sha256:<hex>` of the row's content: its revision (the same row twice dedups; a changed row is new). */
  contentHash: string;
  time: string | undefined;
  properties: Record<string, unknown>;
}

export type SkipReason =
  'oversized' | 'malformed_body' | 'malformed_record' | 'unknown_category' | 'table_not_allowed' | 'unknown_tenant';

export interface Skip {
  reason: SkipReason;
  /** What was wrong, for a log line (never the record's content). */
  detail: string;
}

export interface ParsedEvent {
  triggers: StreamTrigger[];
  rows: StreamRow[];
  skipped: Skip[];
}

export interface ParseOptions {
  /** Tenants some source names (lower-case GUIDs); records of others are skipped. */
  tenants: ReadonlySet<string>;
  /** Other tables to pass through (`tables:`). */
  tables: ReadonlySet<string>;
  /** Events larger than this are skipped unread. @defaultValue 1048576 (Event Hubs Standard's limit) */
  maxBytes?: number;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length ? v : undefined);

/** JSON with sorted keys, so a hash does not depend on the order the sender wrote the columns in. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

const sha256 = (text: string): string => `sha256:${createHash('sha256').update(text).digest('hex')}`;

/** The id of a row: its natural identity where the table has one and the row carries it, else its content hash. */
export function rowId(table: string, properties: Record<string, unknown>, contentHash: string): string {
  const columns = NATURAL_KEYS[table];
  const values = columns?.map((c) => properties[c]);
  if (!values || values.some((v) => (typeof v !== 'string' || !v) && typeof v !== 'number')) return contentHash;
  const joined = values.map(String).join('|');
  return SAFE_ID.test(joined) ? joined : sha256(joined);
}

/**
 * Parses one event body (the bytes the Event Hub holds; a string or an already parsed object is accepted too).
 * Never throws: what it cannot use is in `skipped`, one entry per event or per record.
 */
export function parseStreamEvent(body: unknown, opts: ParseOptions): ParsedEvent {
  const out: ParsedEvent = { triggers: [], rows: [], skipped: [] };
  const maxBytes = opts.maxBytes ?? 1_048_576;
  let doc: unknown = body;
  if (Buffer.isBuffer(body) || body instanceof Uint8Array || typeof body === 'string') {
    const size = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
    if (size > maxBytes) {
      out.skipped.push({ reason: 'oversized', detail: `event of ${size} bytes (max ${maxBytes})` });
      return out;
    }
    try {
      doc = JSON.parse(typeof body === 'string' ? body : Buffer.from(body).toString('utf8'));
    } catch (err) {
      out.skipped.push({ reason: 'malformed_body', detail: `not JSON: ${(err as Error).message.slice(0, 120)}` });
      return out;
    }
  }
  const records = (doc as { records?: unknown } | null)?.records;
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc) || !Array.isArray(records)) {
    out.skipped.push({ reason: 'malformed_body', detail: 'not an object with a "records" array' });
    return out;
  }
  records.forEach((r, i) => parseRecord(r, i, opts, out));
  return out;
}

function parseRecord(r: unknown, i: number, opts: ParseOptions, out: ParsedEvent): void {
  const skip = (reason: SkipReason, detail: string): void => {
    out.skipped.push({ reason, detail: `records[${i}]: ${detail}` });
  };
  if (r === null || typeof r !== 'object' || Array.isArray(r)) return skip('malformed_record', 'not an object');
  const rec = r as Record<string, unknown>;
  const category = str(rec.category);
  const table = category?.startsWith(CATEGORY_PREFIX) ? category.slice(CATEGORY_PREFIX.length) : undefined;
  if (!table || !TABLE_NAME.test(table))
    return skip('unknown_category', `category ${JSON.stringify(String(rec.category ?? '')).slice(0, 80)}`);
  const alertTable = (ALERT_TABLES as readonly string[]).includes(table) ? (table as AlertTable) : undefined;
  if (!alertTable && !opts.tables.has(table)) return skip('table_not_allowed', `table ${table} is not in tables:`);
  const tenant = str(rec.tenantId);
  if (!tenant || !TENANT_ID.test(tenant)) return skip('malformed_record', 'tenantId is not a GUID');
  const tenantId = tenant.toLowerCase();
  if (!opts.tenants.has(tenantId)) return skip('unknown_tenant', `tenant ${tenantId} is not any source's tenant_id`);
  const props = rec.properties;
  if (props === null || typeof props !== 'object' || Array.isArray(props))
    return skip('malformed_record', 'properties is not an object');
  const properties = props as Record<string, unknown>;
  const time = str(properties.Timestamp) ?? str(rec.time);
  if (alertTable) {
    const alertId = str(properties.AlertId);
    if (!alertId || !ALERT_ID.test(alertId)) return skip('malformed_record', `${table} without a valid AlertId`);
    out.triggers.push({ tenantId, alertId, table: alertTable, time });
    return;
  }
  const contentHash = sha256(canonical(properties));
  out.rows.push({ tenantId, table, id: rowId(table, properties, contentHash), contentHash, time, properties });
}

/**
 * Many events name one alert (an AlertInfo row and an AlertEvidence row per entity): one trigger per
 * (tenant, alert), in first-seen order — one Graph request each.
 */
export function coalesceTriggers(triggers: readonly StreamTrigger[]): StreamTrigger[] {
  const seen = new Map<string, StreamTrigger>();
  for (const t of triggers) {
    const k = `${t.tenantId}/${t.alertId}`;
    if (!seen.has(k)) seen.set(k, t);
  }
  return [...seen.values()];
}

/** The `provider` of rows of streamed tables: the Defender XDR portal's Advanced Hunting (Graph's serviceSource name). */
export const ROW_PROVIDER = 'microsoft365Defender';

/**
 * A row of an allow-listed table as a record: `resource: streaming/<Table>`, keyed by the row's natural identity (or
 * content hash), revised by its content hash (a repeat is a duplicate; a row whose content changed under the same
 * identity is delivered again), `data` = the row's columns verbatim. Rows have no severity, status or incident.
 */
export function rowRecord(row: StreamRow, source: string, now = new Date()): AlertRecord {
  const resource = `streaming/${row.table}`;
  const time = row.time ?? null;
  const action = str(row.properties.ActionType);
  return {
    schema: RECORD_SCHEMA,
    key: `${row.tenantId}/${resource}/${ROW_PROVIDER}/${row.id}`,
    revision: row.contentHash,
    tenant_id: row.tenantId,
    source,
    resource: resource as AlertRecord['resource'],
    provider: ROW_PROVIDER,
    id: row.id,
    incident_id: null,
    severity: 'unknown',
    status: 'unknown',
    title: action ? `${row.table}: ${action}` : row.table,
    created_at: time,
    updated_at: time,
    ingested_at: now.toISOString(),
    via: 'streaming',
    data: row.properties,
  };
}
