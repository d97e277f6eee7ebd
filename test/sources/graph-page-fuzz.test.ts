/**
 * Issue 12, must-show: a fuzz test of Graph page bodies through the real poller and pipeline. A loopback proxy in
 * front of the simulator replaces the items of an alerts_v2 page with generated ones: real alerts with hostile field
 * values (control characters in routing fields, huge strings, wrong types, future and malformed dates) mixed with
 * items that are not alerts at all. Whatever a page holds, the poll ends (records or a clean error), nothing throws
 * out of it, and each filtered sink receives exactly the records its filter matches — never one it was filtered away
 * from.
 */
import fc from 'fast-check';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { compileFilter, type RecordFilter } from '../../src/pipeline/filter.js';
import { startSimulator } from '../../src/simulator/server.js';
import type { TenantCredentials } from '../../src/simulator/types.js';
import { GraphSource } from '../../src/sources/graph/source.js';
import { RecordingSink } from '../peers/recording-sink.js';
import { captureLogger, graphSourceConfig, pollNow } from '../helpers/graph.js';
import { startMangler } from '../helpers/graph-mangler.js';
import { cleanup, startTestPipeline } from '../helpers/pipeline.js';
import { waitFor } from '../helpers/wait.js';
import { mintReplicaId } from '../../src/pipeline/replica.js';

const T: TenantCredentials = {
  tenantId: 'eeeeeeee-0000-4000-8000-00000000f022',
  clientId: 'app-fuzz',
  clientSecret: 'secret-fuzz',
};
const sim = await startSimulator({ tenants: [T], seed: 2022 });
const mangler = await startMangler(sim);
afterAll(async () => {
  await mangler.close();
  await sim.close();
});

const FILTERS: Record<string, RecordFilter> = {
  high: { min_severity: 'high' },
  mde: { providers: ['microsoftDefenderForEndpoint'] },
};

const hostileText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({
    unit: fc.constantFrom('\x1f', '\x1e', '\x00', '\n', '%', '%1F', '|', 'm', 'microsoftDefenderForEndpoint', 'high'),
    maxLength: 12,
  }),
  fc.constantFrom('microsoftDefenderForEndpoint', 'microsoftDefenderForEndpoint\x1fhigh', 'high', 'informational', ''),
  fc.constant('x'.repeat(200_000)),
);
const anyValue = fc.oneof(
  hostileText,
  fc.integer(),
  fc.constant(null),
  fc.boolean(),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.object({ maxDepth: 1 }),
);
/** Update times after the page's real alerts (a page Graph sorted), far-future ones, and ones that are no date at all. */
const date = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 3_600_000 }).map((ms) => new Date(Date.now() + ms).toISOString()) },
  {
    weight: 1,
    arbitrary: fc
      .date({ min: new Date('2030-01-01T00:00:00Z'), max: new Date('2099-12-31T00:00:00Z'), noInvalidDate: true })
      .map((d) => d.toISOString()),
  },
  { weight: 1, arbitrary: hostileText },
);
const overrides = fc.record(
  {
    id: fc.oneof(fc.uuid(), hostileText, fc.integer()),
    serviceSource: fc.oneof(hostileText, anyValue),
    severity: fc.oneof(
      fc.constantFrom('low', 'medium', 'high', 'informational', 'unknownFutureValue', 'HIGH'),
      anyValue,
    ),
    status: fc.oneof(fc.constantFrom('new', 'inProgress', 'resolved'), anyValue),
    tenantId: fc.oneof(fc.constant(T.tenantId), hostileText),
    title: fc.oneof(hostileText, anyValue),
    lastUpdateDateTime: date,
  },
  { requiredKeys: [] },
);
/** One page item: an alert of the simulator with some fields replaced, or something that is not an alert. */
const item = fc.oneof(
  { weight: 4, arbitrary: overrides.map((o) => ({ kind: 'alert' as const, o })) },
  { weight: 1, arbitrary: anyValue.map((v) => ({ kind: 'junk' as const, v })) },
);

describe('Graph page bodies, fuzzed, through the poller and the pipeline', () => {
  it('never crash a poll and never route a record to a sink it was filtered away from', async () => {
    const ref = new RecordingSink('all');
    const sinks = Object.entries(FILTERS).map(([name, filter]) => ({ sink: new RecordingSink(name), filter }));
    const tp = await startTestPipeline([{ sink: ref }, ...sinks]);
    const cap = captureLogger();
    const source = new GraphSource(
      graphSourceConfig(sim, {
        name: 'fuzz',
        ...T,
        graphUrl: mangler.url,
        extra: '    late_evidence: { reread_after_ms: [] }',
      }),
      {
        redis: tp.redis,
        prefix: tp.prefix,
        emit: (r) => tp.pipeline.emit(r),
        metrics: tp.metrics,
        logger: cap.logger,
        takeoverMs: 5000,
        replicaId: mintReplicaId(),
      },
    );
    const poller = source.pollers[0]!;
    let polls = 0;
    let failed = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(item, { minLength: 1, maxLength: 12 }), async (items) => {
          const base = sim.create(T.tenantId, 'alerts_v2');
          // Graph sorts a page ascending by update time (the poller asks it to): the generated alerts come sorted too.
          const when = (v: unknown) => String((v as { lastUpdateDateTime?: unknown } | null)?.lastUpdateDateTime ?? '');
          const value = items
            .map((it) => (it.kind === 'junk' ? it.v : { ...base, ...it.o }))
            .sort((a, b) => (when(a) < when(b) ? -1 : when(a) > when(b) ? 1 : 0));
          let once = true; // the first list request of the poll gets the generated page; the rest of the walk is real
          mangler.alter = (body, path) => {
            if (!once || !path.includes('/security/alerts_v2')) return body;
            once = false;
            return { ...body, value: [...(body.value as unknown[]), ...value] };
          };
          const result = await pollNow(poller);
          polls++;
          if (result === null) failed++;
        }),
        { numRuns: 40, seed: 2022 },
      );
    } finally {
      mangler.alter = undefined;
    }
    try {
      await waitFor(() => tp.pipeline.idle(), { timeoutMs: 60_000, what: 'the pipeline to deliver everything' });
      expect(polls).toBe(40);
      expect(ref.received.length).toBeGreaterThan(0);
      const keyOf = (r: { key: string; revision: string }) => `${r.key}@${r.revision}`;
      for (const { sink, filter } of sinks) {
        const accepts = compileFilter(filter);
        const expected = ref.received
          .filter((r) => accepts(r))
          .map(keyOf)
          .sort();
        const got = sink.received.map(keyOf).sort();
        for (const r of sink.received)
          expect(
            accepts(r),
            `${sink.name} received ${JSON.stringify({ key: r.key, severity: r.severity, provider: r.provider })}`,
          ).toBe(true);
        expect(got).toEqual(expected);
      }
      console.log(
        [
          ...new Set(
            cap.lines
              .filter((l) => Number(l.level) >= 50)
              .map((l) => String(l.msg) + ' ' + String(l.err).slice(0, 160)),
          ),
        ].join('\n'),
      );
      console.log(
        `graph page fuzz: ${polls} polls (${failed} ended with a page error), ${ref.received.length} records delivered; ` +
          Object.values(sinks)
            .map(({ sink }) => `${sink.name} ${sink.received.length}`)
            .join(', '),
      );
    } finally {
      await source.stop();
      await cleanup(tp);
    }
  }, 240_000);

  it('reads a page holding an alert without a usable update time instead of failing the window as out of order', async () => {
    const ref = new RecordingSink('all');
    const tp = await startTestPipeline([{ sink: ref }]);
    const source = new GraphSource(
      graphSourceConfig(sim, {
        name: 'untimed',
        ...T,
        graphUrl: mangler.url,
        extra: '    late_evidence: { reread_after_ms: [] }',
      }),
      {
        redis: tp.redis,
        prefix: tp.prefix,
        emit: (r) => tp.pipeline.emit(r),
        metrics: tp.metrics,
        logger: pino({ level: 'silent' }),
        takeoverMs: 5000,
        replicaId: mintReplicaId(),
      },
    );
    try {
      const a = sim.create(T.tenantId, 'alerts_v2');
      const b = sim.create(T.tenantId, 'alerts_v2');
      let once = true;
      mangler.alter = (body, path) => {
        if (!once || !path.includes('/security/alerts_v2')) return body;
        once = false;
        const value = body.value as Array<Record<string, unknown>>;
        // an item with no update time between two that have one (the newest last, as Graph sorts)
        return {
          ...body,
          value: [
            ...value,
            { ...a, id: 'untimed-1', lastUpdateDateTime: null },
            { ...b, id: 'late-1', lastUpdateDateTime: new Date(Date.now() + 1000).toISOString() },
          ],
        };
      };
      const result = await pollNow(source.pollers[0]!);
      expect(result).not.toBeNull();
      // (every id: records of different keys are staged in their own inbox shards and may arrive in any order)
      const ids = [String(a.id), String(b.id), 'untimed-1', 'late-1'];
      await waitFor(() => ids.every((id) => ref.received.some((r) => r.id === id)), {
        timeoutMs: 30_000,
        what: 'the untimed alert and the one after it',
      });
      expect(ref.received.map((r) => r.id)).toEqual(
        expect.arrayContaining([String(a.id), String(b.id), 'untimed-1', 'late-1']),
      );
    } finally {
      mangler.alter = undefined;
      await source.stop();
      await cleanup(tp);
    }
  });
});
