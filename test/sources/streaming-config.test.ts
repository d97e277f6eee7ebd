/** The `defender_streaming` source's configuration: defaults, and each mistake reported with its path. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';

const GRAPH = `
  - name: contoso
    type: graph_security
    tenant_id: 11111111-2222-4333-8444-555555555555
    client_id: app
    client_secret: s3cret`;
const CS = 'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=a2V5;EntityPath=stream';

const parse = (sources: string, extra = '', sinks = '  - { name: out, type: file, path: /dev/null }') =>
  parseConfig(
    `${extra}
sources:${sources}
sinks:
${sinks}
`,
    { baseDir: '/', env: {} },
  );

describe('defender_streaming config', () => {
  it('fills the hub from EntityPath and the defaults', () => {
    const res = parse(`${GRAPH}
  - { name: stream, type: defender_streaming, connection_string: "${CS}" }`);
    if (!res.ok) throw new Error(res.errors.join('\n'));
    expect(res.config.sources[1]).toMatchObject({
      type: 'defender_streaming',
      event_hub_name: 'stream',
      consumer_group: '$Default',
      start_position: 'latest',
      max_event_bytes: 1_048_576,
    });
  });

  it.each([
    [
      'no connection',
      `${GRAPH}\n  - { name: s, type: defender_streaming, event_hub_name: h }`,
      'sources[1]: needs connection_string (or connection_string_file) or fully_qualified_namespace',
    ],
    [
      'no hub',
      `${GRAPH}\n  - { name: s, type: defender_streaming, connection_string: "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=a2V5" }`,
      'sources[1].event_hub_name: required (connection_string has no EntityPath)',
    ],
    [
      'an unknown graph_source',
      `${GRAPH}\n  - { name: s, type: defender_streaming, connection_string: "${CS}", graph_source: nope }`,
      'sources[1].graph_source: unknown graph_security source "nope" (graph_security sources: contoso)',
    ],
    [
      'a graph_source named by domain',
      `${GRAPH.replace('11111111-2222-4333-8444-555555555555', 'contoso.onmicrosoft.com')}\n  - { name: s, type: defender_streaming, connection_string: "${CS}", graph_source: contoso }`,
      'sources[1].graph_source: its tenant_id "contoso.onmicrosoft.com" is a domain; streamed events name the tenant by GUID: give that source its tenant GUID',
    ],
    [
      'no graph_security source',
      `\n  - { name: s, type: defender_streaming, connection_string: "${CS}" }`,
      'sources[0]: needs a graph_security source whose tenant_id is a tenant GUID: it reads the alerts the stream names',
    ],
    [
      'a namespace without Entra settings',
      `${GRAPH}\n  - { name: s, type: defender_streaming, fully_qualified_namespace: ns.servicebus.windows.net, event_hub_name: h }`,
      'sources[1].tenant_id: required with fully_qualified_namespace (except with auth: managed_identity)',
    ],
    [
      'a table name that is not one',
      `${GRAPH}\n  - { name: s, type: defender_streaming, connection_string: "${CS}", tables: [Device-Events] }`,
      'sources[1].tables[0]: must be an Advanced Hunting table name (letters and digits, e.g. DeviceProcessEvents)',
    ],
    [
      'an alert table in tables',
      `${GRAPH}\n  - { name: s, type: defender_streaming, connection_string: "${CS}", tables: [DeviceEvents, AlertInfo] }`,
      'sources[1].tables[1]: AlertInfo and AlertEvidence are read as triggers (the alert comes from Graph), not passed through',
    ],
    [
      'a table listed twice',
      `${GRAPH}\n  - { name: s, type: defender_streaming, connection_string: "${CS}", tables: [EmailEvents, EmailEvents] }`,
      'sources[1].tables[1]: duplicate table "EmailEvents"',
    ],
  ])('reports %s', (_, sources, message) => {
    const res = parse(sources);
    expect(res.ok).toBe(false);
    if (!res.ok) expect(res.errors).toContain(message);
  });

  it('takes tables, and sinks opt in to their rows by filter', () => {
    const res = parse(
      `${GRAPH}\n  - { name: s, type: defender_streaming, connection_string: "${CS}", tables: [DeviceProcessEvents, EmailEvents] }`,
      '',
      `  - { name: out, type: file, path: /dev/null, filter: { resources: [alerts_v2, streaming/EmailEvents, "streaming/*"] } }`,
    );
    if (!res.ok) throw new Error(res.errors.join('\n'));
    expect(res.config.sources[1]).toMatchObject({ tables: ['DeviceProcessEvents', 'EmailEvents'] });
  });

  it.each([
    [
      'an ocsf sink opting in to streamed tables',
      '  - { name: o, type: file, path: /dev/null, format: ocsf, filter: { resources: [alerts_v2, streaming/DeviceProcessEvents] } }',
      'sinks[0].filter.resources[1]: format ocsf has no class for rows of streamed tables (streaming/DeviceProcessEvents): give them a sink with format envelope or graph',
    ],
    [
      'a table no sink takes',
      '  - { name: o, type: file, path: /dev/null, filter: { resources: [alerts_v2] } }',
      "sources[1].tables[0]: no sink takes its rows: name streaming/DeviceProcessEvents (or streaming/*) in a sink's filter.resources",
    ],
    [
      'a sink naming a table no source passes through',
      '  - { name: o, type: file, path: /dev/null, filter: { resources: [streaming/DeviceProcessEvents, streaming/EmailEvents] } }',
      'sinks[0].filter.resources[1]: no defender_streaming source lists EmailEvents in tables (DeviceProcessEvents)',
    ],
    [
      'a streamed resource that is no table',
      '  - { name: o, type: file, path: /dev/null, filter: { resources: [streaming/Device.Events] } }',
      'sinks[0].filter.resources[0]: must be one of alerts_v2, incidents, alerts, secure_scores, secure_score_control_profiles, sync_outcomes, health, streaming/<Table> or streaming/* (got "streaming/Device.Events")',
    ],
  ])('reports %s', (_, sinks, message) => {
    const res = parse(
      `${GRAPH}\n  - { name: s, type: defender_streaming, connection_string: "${CS}", tables: [DeviceProcessEvents] }`,
      '',
      sinks,
    );
    expect(res.ok).toBe(false);
    if (!res.ok) expect(res.errors).toContain(message);
  });

  it('refuses a key over the emulator’s plain AMQP to another host with security.require_tls', () => {
    const cs =
      'Endpoint=sb://10.1.2.3:5672;SharedAccessKeyName=k;SharedAccessKey=a2V5;UseDevelopmentEmulator=true;EntityPath=h';
    const res = parse(
      `${GRAPH}\n  - { name: s, type: defender_streaming, connection_string: "${cs}" }`,
      'security: { require_tls: true }',
    );
    expect(res.ok).toBe(false);
    if (!res.ok)
      expect(res.errors.join('\n')).toMatch(
        /sources\[1\]\.connection_string: .*defender_streaming source 's'.*UseDevelopmentEmulator/,
      );
  });
});
