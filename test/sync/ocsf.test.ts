/**
 * Write-back outcome records in `format: ocsf` (src/sync/ocsf.ts): an OCSF 1.4.0 API Activity (6003), not the alert
 * mapping's Detection Finding, with every attribute the class requires, for each outcome kind.
 */
import { describe, expect, it } from 'vitest';
import { formatterFor } from '../../src/record/format.js';
import type { SyncOutcome, SyncOutcomeKind } from '../../src/sync/queue.js';
import { outcomeRecord } from '../../src/sync/outcome-record.js';

const TENANT = 'aaaaaaaa-0000-4000-8000-00000000c15a';
const ocsf = formatterFor('ocsf');

function outcome(kind: SyncOutcomeKind, over: Partial<SyncOutcome> = {}): SyncOutcome {
  return {
    schema: 'alertbridge.sync_outcome/v1',
    change_id: `chg-${kind}`,
    source: 'contoso',
    tenant_id: TENANT,
    resource: 'alerts_v2',
    id: 'da637551227677560813_-961444813',
    key: `${TENANT}/alerts_v2/microsoftDefenderForEndpoint/da637551227677560813_-961444813`,
    outcome: kind,
    requested_by: 'bearer',
    requested_at: '2026-12-03T05:00:00.000Z',
    finished_at: '2026-12-03T05:00:02.500Z',
    fields: [
      { field: 'status', from: 'new', to: 'resolved' },
      { field: 'classification', from: null, to: 'truePositive' },
    ],
    comment: null,
    expected_revision: '2026-12-03T04:59:00Z',
    revision_before: '2026-12-03T04:59:00Z',
    revision_after: kind === 'applied' ? '2026-12-03T05:00:02Z' : null,
    graph_status: 200,
    reason: null,
    attempts: 1,
    ...over,
  };
}

type Event = Record<string, unknown> & {
  actor: { user: { name: string }; app_name: string };
  api: { operation: string; service: { name: string }; request: { uid: string }; response?: Record<string, unknown> };
  src_endpoint: Record<string, unknown>;
  metadata: { version: string; product: { name: string; vendor_name: string }; uid: string; tenant_uid: string };
  resources: Array<{ uid: string; type: string; data: Record<string, unknown> }>;
  http_request?: { http_method: string; url: { path: string } };
  http_response?: { code: number };
};
const event = (o: SyncOutcome): Event => ocsf(outcomeRecord(o, new Date('2026-12-03T05:00:03Z'))) as Event;

/** The attributes OCSF 1.4.0 requires of an API Activity (base event plus the class), with their types. */
function expectRequired(e: Event, o: SyncOutcome): void {
  expect(e).toMatchObject({ class_uid: 6003, category_uid: 6, activity_id: 3, type_uid: 600303 });
  expect(e.type_uid).toBe((e.class_uid as number) * 100 + (e.activity_id as number));
  expect([0, 1, 2, 3, 4, 5, 6, 99]).toContain(e.severity_id);
  expect([0, 1, 2, 99]).toContain(e.status_id);
  expect(Number.isInteger(e.time)).toBe(true);
  expect(e.metadata.version).toBe('1.4.0');
  expect(e.metadata.product).toEqual({ name: 'alertbridge', vendor_name: 'alertbridge' });
  // actor: at least one of user, process, session, app_name, app_uid; api: operation; src_endpoint: one identifier.
  expect(e.actor.user.name).toBe(o.requested_by);
  expect(typeof e.api.operation).toBe('string');
  expect(e.api.service.name).toBe('Microsoft Graph');
  expect(e.src_endpoint.svc_name).toBe('alertbridge');
  expect(e.resources[0]).toMatchObject({ uid: o.id, type: o.resource });
  expect(e.metadata.uid).toBe(`sync:contoso/${o.change_id}@${o.finished_at}`);
  expect(e.metadata.tenant_uid).toBe(TENANT);
  // Not the alert mapping's Detection Finding.
  expect(e).not.toHaveProperty('finding_info');
}

describe('write-back outcome records as OCSF API Activity', () => {
  it('applied: a successful PATCH, the fields before and after in the resource', () => {
    const o = outcome('applied');
    const e = event(o);
    expectRequired(e, o);
    expect(e).toMatchObject({
      activity_name: 'Update',
      type_name: 'API Activity: Update',
      severity_id: 1,
      status_id: 1,
      status: 'Success',
      status_code: 'applied',
      time: Date.parse(o.finished_at),
      start_time: Date.parse(o.requested_at),
    });
    expect(e.api).toMatchObject({ operation: 'PATCH', request: { uid: 'chg-applied' }, response: { code: 200 } });
    expect(e.http_request).toEqual({
      http_method: 'PATCH',
      url: { path: '/security/alerts_v2/da637551227677560813_-961444813' },
    });
    expect(e.http_response).toEqual({ code: 200 });
    expect(e.resources[0]!.data).toMatchObject({
      key: o.key,
      fields: o.fields,
      revision_before: o.revision_before,
      revision_after: o.revision_after,
    });
    expect(e.unmapped).toEqual({ alertbridge: o });
  });

  it('applied with only a comment: the POST to the comments', () => {
    const o = outcome('applied', { fields: [], comment: 'Closed from Splunk' });
    const e = event(o);
    expectRequired(e, o);
    expect(e.api.operation).toBe('POST');
    expect(e.http_request!.url.path).toBe('/security/alerts_v2/da637551227677560813_-961444813/comments');
  });

  it('noop: success, nothing written — the status answers the GET', () => {
    const o = outcome('noop', {
      fields: [{ field: 'status', from: 'resolved', to: 'resolved' }],
      revision_after: null,
    });
    const e = event(o);
    expectRequired(e, o);
    expect(e).toMatchObject({ severity_id: 1, status_id: 1, status: 'Success', status_code: 'noop' });
    expect(e.status_detail).toMatch(/nothing was written/);
    expect(e.api.operation).toBe('PATCH');
    expect(e.http_request!.http_method).toBe('GET');
    expect(e.api.response).toEqual({ code: 200 });
  });

  it('conflict: failure with both revisions in the detail, nothing written', () => {
    const reason =
      'expected_revision 2026-12-03T04:00:00Z is older than the graph revision 2026-12-03T04:59:00Z: the object changed since the analyst decided; nothing was written';
    const o = outcome('conflict', { reason, requested_by: 'kafka:siem-triage', resource: 'incidents', id: '42' });
    const e = event(o);
    expectRequired(e, o);
    expect(e).toMatchObject({ severity_id: 2, status_id: 2, status: 'Failure', status_code: 'conflict' });
    expect(e.status_detail).toBe(reason);
    expect(e.actor.user.name).toBe('kafka:siem-triage');
    expect(e.resources[0]).toMatchObject({ uid: '42', type: 'incidents' });
    expect(e.http_request).toEqual({ http_method: 'GET', url: { path: '/security/incidents/42' } });
    expect(e.api.response).toEqual({ code: 200, error: 'conflict', error_message: reason });
  });

  it("failed: failure with Graph's status and error; no request method guessed", () => {
    const reason = 'Graph answered 403 Forbidden: the app lacks the application permission SecurityAlert.ReadWrite.All';
    const o = outcome('failed', { graph_status: 403, reason, revision_before: null, attempts: 1 });
    const e = event(o);
    expectRequired(e, o);
    expect(e).toMatchObject({ severity_id: 3, status_id: 2, status: 'Failure', status_code: 'failed' });
    expect(e.status_detail).toBe(reason);
    expect(e.http_response).toEqual({ code: 403 });
    expect(e.api.response).toEqual({ code: 403, error: 'failed', error_message: reason });
    expect(e).not.toHaveProperty('http_request');
  });

  it('failed without an answer from Graph (network): no http_response, the error still in api.response', () => {
    const o = outcome('failed', { graph_status: null, reason: 'gave up after 10 attempts: ECONNRESET' });
    const e = event(o);
    expectRequired(e, o);
    expect(e).not.toHaveProperty('http_response');
    expect(e.api.response).toEqual({ error: 'failed', error_message: 'gave up after 10 attempts: ECONNRESET' });
  });
});
