/**
 * A sink peer for pipeline tests: it records what it received and fails on demand, the way a real peer would
 * (whole-batch retryable errors with Retry-After, permanent rejection of chosen records, slowness). The pipeline
 * under test is real; only the far end is this.
 */
import { PermanentError, RetryableError, type AlertRecord, type SendResult, type Sink } from '../../sinks/types.js';

export class RecordingSink implements Sink {
  readonly type = 'recording';
  readonly received: AlertRecord[] = [];
  readonly calls: Array<{ at: number; size: number; outcome: string }> = [];
  /** Whole-batch retryable failures still to give. */
  failNext = 0;
  retryAfterMs: number | undefined;
  /** Records for which this returns true are rejected permanently. */
  rejects: (r: AlertRecord) => boolean = () => false;
  /** How a rejection is reported: per record in a SendResult, or by failing the whole batch. */
  rejectMode: 'per-record' | 'whole-batch' = 'per-record';
  /** Every batch fails permanently (a misconfigured peer). */
  brokenPermanently = false;
  delayMs = 0;
  started = false;
  closed = 0;

  constructor(readonly name: string) {}

  async start(): Promise<void> {
    this.started = true;
  }

  async send(records: readonly AlertRecord[]): Promise<void | SendResult> {
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.brokenPermanently) {
      this.calls.push({ at: Date.now(), size: records.length, outcome: 'broken' });
      throw new PermanentError(`sink '${this.name}' rejects everything`);
    }
    if (this.failNext > 0) {
      this.failNext--;
      this.calls.push({ at: Date.now(), size: records.length, outcome: 'retryable' });
      throw new RetryableError(`sink '${this.name}' is busy`, { retryAfterMs: this.retryAfterMs });
    }
    const bad = records.map((r, i) => (this.rejects(r) ? i : -1)).filter((i) => i >= 0);
    if (bad.length && this.rejectMode === 'whole-batch') {
      this.calls.push({ at: Date.now(), size: records.length, outcome: 'batch-rejected' });
      throw new PermanentError(`sink '${this.name}' rejected the batch`);
    }
    records.forEach((r, i) => {
      if (!bad.includes(i)) this.received.push(r);
    });
    this.calls.push({ at: Date.now(), size: records.length, outcome: bad.length ? 'partial' : 'ok' });
    if (bad.length)
      return {
        failed: bad.map((index) => ({ index, error: new PermanentError(`record ${records[index]!.id} is invalid`) })),
      };
  }

  async close(): Promise<void> {
    this.closed++;
  }

  keys(): string[] {
    return this.received.map((r) => `${r.key}@${r.revision}`);
  }
}
