/**
 * Realistic data for the benches: alerts_v2 objects from the project's seeded generator (2–5 KB of JSON each,
 * Defender-style evidence), 30% of them later revisions of earlier alerts — what a busy tenant's polls bring. The
 * same seed gives the same alerts, so every sink and its baseline see exactly the same data.
 *
 * Generating costs ~0.2 ms per alert, so a set is cached as NDJSON under `.cache/bench/` (git-ignored) and read back
 * on the next run.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatterFor } from '../../src/record/format.js';
import { normalize } from '../../src/record/normalize.js';
import type { AlertRecord, Via } from '../../src/record/types.js';
import { createAlertGenerator, type GraphObject } from '../../src/simulator/generate.js';
import { CACHE_DIR } from './paths.js';
import { seeded } from './stats.js';

/** Share of alerts that are a later revision of an alert seen shortly before. */
const UPDATE_SHARE = 0.3;
/** Updates pick among this many recent alerts. */
const RECENT = 1000;

function generate(n: number, seed: number): GraphObject[] {
  const gen = createAlertGenerator({
    seed,
    tenantIds: ['7d2a1c9e-4b3f-4e8a-9c1d-2f3e4a5b6c7d', 'b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e'],
  });
  const dice = seeded(seed ^ 0xbe4c);
  const recent: GraphObject[] = [];
  const out: GraphObject[] = [];
  for (let i = 0; i < n; i++) {
    let obj: GraphObject;
    if (recent.length > 10 && dice() < UPDATE_SHARE) {
      const at = Math.floor(dice() * recent.length);
      obj = gen.updated(recent[at]!);
      recent[at] = obj;
    } else {
      obj = gen.alertV2();
      recent.push(obj);
      if (recent.length > RECENT) recent.shift();
    }
    out.push(obj);
  }
  return out;
}

/** `n` Graph alerts_v2 objects (seeded; cached on disk). */
export function graphAlerts(n: number, seed = 1): GraphObject[] {
  const file = join(CACHE_DIR, `alerts_v2-seed${seed}-${n}.ndjson`);
  if (existsSync(file))
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as GraphObject);
  const objs = generate(n, seed);
  mkdirSync(CACHE_DIR, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, objs.map((o) => JSON.stringify(o)).join('\n') + '\n');
  renameSync(tmp, file);
  return objs;
}

/** Graph objects as records, the way a poll would hand them to `pipeline.emit`. */
export function toRecords(objs: readonly GraphObject[], via: Via = 'poll', source = 'bench'): AlertRecord[] {
  const now = new Date();
  return objs.map((obj) => {
    const res = normalize('alerts_v2', obj, { source, via, now });
    if (!res.ok) throw new Error(`generated alert did not normalize: ${res.reason}`);
    return res.record;
  });
}

/** `n` records of realistic alerts (seeded): the data of every throughput run. */
export function benchRecords(n: number, seed = 1): AlertRecord[] {
  return toRecords(graphAlerts(n, seed));
}

/** Bytes of the envelope JSON of each record: what a sink writes, the basis of the MiB/s figures. */
export function envelopeBytes(records: readonly AlertRecord[]): number {
  const format = formatterFor('envelope');
  return records.reduce((a, r) => a + Buffer.byteLength(JSON.stringify(format(r))), 0);
}

/** `key@revision`: the identity a record is delivered once under. */
export const identity = (r: { key: string; revision: string }): string => `${r.key}@${r.revision}`;
