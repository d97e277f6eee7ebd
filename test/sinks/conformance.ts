/**
 * The conformance suite every sink passes (Vector's compliance tests, the Collector's lifecycle tests): lifecycle,
 * error classification, each record written once — alone and through the real pipeline — and each key's revisions
 * in the order they were emitted.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { classify } from '../../src/pipeline/retry.js';
import type { AlertRecord, Sink } from '../../sinks/types.js';
import { arrivalOf, emitPerKeyOrder, perKeyOrderProblems } from '../helpers/per-key-order.js';
import { cleanup, startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
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
    const make = async (kind: keyof ConformanceHarness, name = `conf-${type}`): Promise<SinkUnderTest> => {
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
  });
}
