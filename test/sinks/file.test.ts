import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileSinkSchema } from '../../sinks/file/config.js';
import { createFileSink } from '../../sinks/file/index.js';
import { sinkFormat } from '../../src/record/format.js';
import type { AlertRecord } from '../../sinks/types.js';
import { silentLogger } from '../helpers/pipeline.js';
import { record } from '../helpers/records.js';
import { sinkConformance } from './conformance.js';

function fileSink(name: string, path: string, format: 'envelope' | 'graph' = 'envelope') {
  return createFileSink({
    config: FileSinkSchema.parse({ type: 'file', name, path }),
    logger: silentLogger,
    ...sinkFormat(format),
  });
}

function readLines(path: string): AlertRecord[] {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AlertRecord);
}

sinkConformance('file', {
  async healthy(name) {
    const dir = mkdtempSync(join(tmpdir(), 'ab-file-'));
    const path = join(dir, 'out.ndjson');
    return {
      sink: fileSink(name, path),
      delivered: async () => readLines(path).map((r) => `${r.key}@${r.revision}`),
      dispose: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
  async permanentlyFailing(name) {
    const dir = mkdtempSync(join(tmpdir(), 'ab-file-'));
    mkdirSync(join(dir, 'a-folder'));
    return {
      sink: fileSink(name, join(dir, 'a-folder')),
      delivered: async () => [],
      dispose: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
  async retryablyFailing(name) {
    // /dev/full answers every write with ENOSPC: a full disk, which an operator can free.
    return { sink: fileSink(name, '/dev/full'), delivered: async () => [] };
  },
});

describe('file sink', () => {
  it('writes NDJSON in the configured format', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ab-file-'));
    try {
      const env = fileSink('env', join(dir, 'env.ndjson'));
      const graph = fileSink('graph', join(dir, 'graph.ndjson'), 'graph');
      const r = record(1);
      await env.send([r]);
      await graph.send([r]);
      await Promise.all([env.close(), graph.close()]);
      expect(readLines(join(dir, 'env.ndjson'))).toEqual([r]);
      expect(readLines(join(dir, 'graph.ndjson'))).toEqual([r.data]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('creates missing parent folders of its path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ab-file-'));
    try {
      const path = join(dir, 'not', 'there', 'yet.ndjson');
      const sink = fileSink('nested', path);
      const r = record(2);
      await sink.send([r]);
      await sink.close();
      expect(readLines(path)).toEqual([r]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to send after close (retryable: the records stay queued)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ab-file-'));
    const sink = fileSink('x', join(dir, 'x.ndjson'));
    await sink.close();
    await expect(sink.send([record(1)])).rejects.toMatchObject({ name: 'RetryableError' });
    rmSync(dir, { recursive: true, force: true });
  });
});
