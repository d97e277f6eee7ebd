/**
 * The conformance suite every sink passes (Vector's compliance tests, the Collector's lifecycle tests): lifecycle,
 * error classification, each record written once — alone and through the real pipeline — and each key's revisions
 * in the order they were emitted.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { classify } from '../../src/pipeline/retry.js';
import type { AlertRecord, Sink } from '../../sinks/types.js';
import { arrivalOf, emitPerKeyOrder, perKeyOrderProblems } from '../helpers/per-key-order.js';
import { cleanup, metricValue, startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { records } from '../helpers/records.js';
import { waitFor } from '../helpers/wait.js';

export interface SinkUnderTest {
  sink: Sink;
  /** Identities (`key@revision`) of what the peer holds, in arrival order. */
  delivered(): Promise<string[]>;
  /** Release peers and files. */
  dispose?(): Promise<void>;
}

export interface ConformanceHarness {
  /** A sink against a healthy peer. */
  healthy(name: string): Promise<SinkUnderTest>;
  /** A sink whose peer refuses for good (bad credentials, a path that is a folder, …). */
  permanentlyFailing(name: string): Promise<SinkUnderTest>;
  /** A sink whose peer fails in a way worth retrying (busy, full, unreachable). */
  retryablyFailing(name: string): Promise<SinkUnderTest>;
  /**
   * For sinks with a pause state (`ready()`): a sink whose peer refuses its credentials, with a short
   * `auth_pause_ms`, and how an operator fixes them (a rotated secret file, a re-enabled token).
   */
  refusingCredentials?(name: string): Promise<SinkUnderTest & { fixCredentials(): Promise<void> | void }>;
}

const ident = (r: AlertRecord): string => `${r.key}@${r.revision}`;

export function sinkConformance(type: string, harness: ConformanceHarness): void {
  describe(`sink conformance: ${type}`, () => {
    const disposables: SinkUnderTest[] = [];
    let tp: TestPipeline | undefined;
    afterEach(async () => {
      await cleanup(tp);
      tp = undefined;
      for (const d of disposables.splice(0)) {
        await d.sink.close();
        await d.dispose?.();
      }
    });
    const make = async (
      kind: 'healthy' | 'permanentlyFailing' | 'retryablyFailing',
      name = `conf-${type}`,
    ): Promise<SinkUnderTest> => {
      const s = await harness[kind](name);
      disposables.push(s);
      return s;
    };

    it('starts and closes; close is idempotent', async () => {
      const { sink } = await make('healthy');
      await sink.start();
      await sink.close();
      await sink.close();
    });

    it('closes safely without start', async () => {
      const { sink } = await make('healthy');
      await expect(sink.close()).resolves.toBeUndefined();
    });

    it('writes each record of a batch once', async () => {
      const s = await make('healthy');
      await s.sink.start();
      const batch = records(25);
      const res = await s.sink.send(batch);
      expect(res?.failed ?? []).toEqual([]);
      expect(await s.delivered()).toEqual(batch.map(ident));
    });

    it('classifies a peer that refuses for good as permanent', async () => {
      const s = await make('permanentlyFailing');
      await s.sink.start();
      const err = await s.sink.send(records(2)).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(Error);
      expect(classify(err)).toBe('permanent');
    });

    it('classifies a transient failure as retryable', async () => {
      const s = await make('retryablyFailing');
      await s.sink.start();
      const err = await s.sink.send(records(2)).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(Error);
      expect(classify(err)).toBe('retryable');
    });

    it('receives every record exactly once through the pipeline', async () => {
      const s = await make('healthy');
      tp = await startTestPipeline([{ sink: s.sink, maxRecords: 40 }]);
      const batch = records(300);
      await tp.pipeline.emit(batch);
      await tp.pipeline.emit(batch.slice(0, 100)); // repeats are deduplicated, not re-sent
      await waitFor(async () => (await s.delivered()).length >= 300, { what: `${type} to hold 300 records` });
      await waitFor(() => tp!.pipeline.idle());
      const got = await s.delivered();
      expect(got).toHaveLength(300);
      expect(new Set(got)).toEqual(new Set(batch.map(ident)));
    });

    it('keeps each key in order through the pipeline (200 alerts × 4 revisions)', async () => {
      const s = await make('healthy');
      tp = await startTestPipeline([{ sink: s.sink, maxRecords: 50 }]);
      const emitted = await emitPerKeyOrder(tp.pipeline, { alerts: 200, revisions: 4, chunk: 100 });
      await waitFor(async () => (await s.delivered()).length >= emitted.length, {
        what: `${type} to hold ${emitted.length} records`,
      });
      await waitFor(() => tp!.pipeline.idle());
      expect(perKeyOrderProblems(emitted, (await s.delivered()).map(arrivalOf))).toEqual([]);
    });

    it.runIf(harness.refusingCredentials !== undefined)(
      'pauses while its credentials are refused: records held, no attempt spent, delivered once fixed',
      async () => {
        const s = await harness.refusingCredentials!(`conf-${type}`);
        disposables.push(s);
        // Two attempts only: were a refusal to spend attempts, the records would be dead-lettered on the second.
        tp = await startTestPipeline([{ sink: s.sink, maxRecords: 10, maxAttempts: 2 }]);
        const batch = records(20);
        await tp.pipeline.emit(batch);
        await waitFor(() => s.sink.ready?.() === false, { what: `${type} to pause`, timeoutMs: 60_000 });
        const refused = () => metricValue(tp!.metrics, 'alertbridge_delivery_errors_total', { sink: s.sink.name });
        // Every record refused at least three times over: well past its two attempts.
        await waitFor(async () => (await refused()) >= 3 * batch.length, {
          what: `${type} to be refused three times over`,
          timeoutMs: 60_000,
        });
        expect(s.sink.ready?.()).toBe(false);
        expect(await metricValue(tp.metrics, 'alertbridge_dead_lettered_total', { sink: s.sink.name })).toBe(0);
        expect(await s.delivered()).toEqual([]);

        await s.fixCredentials();
        await waitFor(async () => (await s.delivered()).length >= batch.length, {
          what: `${type} to deliver once its credentials are fixed`,
          timeoutMs: 60_000,
        });
        await waitFor(() => tp!.pipeline.idle());
        const got = await s.delivered();
        expect(got).toHaveLength(batch.length);
        expect(new Set(got)).toEqual(new Set(batch.map(ident)));
        expect(s.sink.ready?.()).toBe(true);
        expect(await metricValue(tp.metrics, 'alertbridge_dead_lettered_total', { sink: s.sink.name })).toBe(0);
      },
      120_000,
    );
  });
}
