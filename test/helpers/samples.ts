import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** Graph sample payloads (copied verbatim from Microsoft's docs into test/fixtures/graph-samples). */
export const SAMPLES_DIR = fileURLToPath(new URL('../fixtures/graph-samples/', import.meta.url));

export function loadSample(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(SAMPLES_DIR, name), 'utf8')) as Record<string, unknown>;
}

export function sampleNames(): string[] {
  return readdirSync(SAMPLES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort();
}
