/**
 * The per-key-order scenario, shared by the sink conformance suite and the 100,000-record pipeline tests: `alerts`
 * alerts × `revisions` revisions each, emitted revision by revision in chunks, and the check that a sink received every
 * record exactly once with each alert's revisions in the order they were emitted (and, where the peer has partitions,
 * all of one alert on one partition).
 */
import { expect } from 'vitest';
import type { AlertRecord } from '../../src/record/types.js';
import type { Pipeline } from '../../src/pipeline/pipeline.js';
import { record } from './records.js';

/** The update time of revision `rev` (1–9). */
export const revisionTime = (rev: number): string => `2026-11-01T1${rev}:00:00.0000000Z`;

/** Revision `rev` (1–9) of alert `i`: the same key, its own update time. */
export const revision = (i: number, rev: number): AlertRecord => record(i, { updated: revisionTime(rev) });

export interface PerKeyOrderOptions {
  alerts: number;
  /** 1–9. @defaultValue 4 */
  revisions?: number;
  /** Records per `emit` call. @defaultValue 1000 */
  chunk?: number;
}

/**
 * Emits revision 1 of every alert, then revision 2, … in chunks of `chunk` records, each accepted (none a
 * duplicate). Returns the records in emit order.
 */
export async function emitPerKeyOrder(pipeline: Pipeline, o: PerKeyOrderOptions): Promise<AlertRecord[]> {
  const revisions = o.revisions ?? 4;
  const chunk = o.chunk ?? 1000;
  const all: AlertRecord[] = [];
  for (let rev = 1; rev <= revisions; rev++) {
    for (let start = 0; start < o.alerts; start += chunk) {
      const part = Array.from({ length: Math.min(chunk, o.alerts - start) }, (_, i) => revision(start + i, rev));
      all.push(...part);
      expect((await pipeline.emit(part)).accepted).toBe(part.length);
    }
  }
  return all;
}

/** One record as the peer holds it; `partition` where the peer has them. */
export interface Arrival {
  key: string;
  revision: string;
  partition?: number | string;
}

/** An arrival from an identity `key@revision` (as the conformance harnesses report them). */
export function arrivalOf(ident: string): Arrival {
  const at = ident.lastIndexOf('@');
  return { key: ident.slice(0, at), revision: ident.slice(at + 1) };
}

/**
 * What is wrong with `arrivals` (in arrival order; per partition where there are partitions) against `emitted`: a
 * key missing or unexpected, a revision lost, repeated or out of order, a key spread over partitions. At most
 * `limit` lines; empty when every record arrived once, in order per key.
 */
export function perKeyOrderProblems(
  emitted: readonly AlertRecord[],
  arrivals: readonly Arrival[],
  limit = 20,
): string[] {
  const want = new Map<string, string[]>();
  for (const r of emitted) (want.get(r.key) ?? want.set(r.key, []).get(r.key)!).push(r.revision);
  const got = new Map<string, { revisions: string[]; partitions: Set<number | string | undefined> }>();
  for (const a of arrivals) {
    const g = got.get(a.key) ?? got.set(a.key, { revisions: [], partitions: new Set() }).get(a.key)!;
    g.revisions.push(a.revision);
    g.partitions.add(a.partition);
  }
  const problems: string[] = [];
  if (arrivals.length !== emitted.length)
    problems.push(`${arrivals.length} records arrived, ${emitted.length} emitted`);
  for (const [key, revisions] of want) {
    const g = got.get(key);
    if (!g) problems.push(`${key}: never arrived`);
    else if (g.revisions.join(' ') !== revisions.join(' '))
      problems.push(`${key}: revisions arrived as [${g.revisions.join(', ')}], emitted [${revisions.join(', ')}]`);
    else if (g.partitions.size > 1) problems.push(`${key}: spread over partitions ${[...g.partitions].join(', ')}`);
  }
  for (const key of got.keys()) if (!want.has(key)) problems.push(`${key}: arrived, never emitted`);
  return problems.length > limit ? [...problems.slice(0, limit), `… and ${problems.length - limit} more`] : problems;
}
