/** Shared setup of the splunk_hec tests: a sink wired to a HEC peer, and what the peer holds. */
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { SplunkHecSinkSchema, type SplunkHecSinkOptions } from '../../../sinks/splunk-hec/config.js';
import { createSplunkHecSink, type SplunkHecSink } from '../../../sinks/splunk-hec/index.js';
import type { AlertRecord } from '../../../sinks/types.js';
import { sinkFormat } from '../../../src/record/format.js';
import { silentLogger } from '../../helpers/pipeline.js';
import type { HecPeer, IndexedEvent } from './server.js';

export const TOKEN = 'test-token';

export function hecSink(peer: HecPeer, opts: Partial<SplunkHecSinkOptions> & { logger?: Logger } = {}): SplunkHecSink {
  const { logger, ...config } = opts;
  return createSplunkHecSink({
    config: SplunkHecSinkSchema.parse({ type: 'splunk_hec', name: 'hec', url: peer.url, token: TOKEN, ...config }),
    logger: logger ?? silentLogger,
    ...sinkFormat('envelope'),
  });
}

/** `key@revision` of an indexed event (format envelope). */
export function identOf(e: IndexedEvent): string {
  const r = e.event.event as AlertRecord;
  return `${r.key}@${r.revision}`;
}

export const ident = (r: AlertRecord): string => `${r.key}@${r.revision}`;

/** A logger whose lines (parsed) land in `lines`, to assert on what an operator would read. */
export function capturingLogger(): {
  logger: Logger;
  lines: Array<{ level: number; msg: string } & Record<string, unknown>>;
} {
  const lines: Array<{ level: number; msg: string } & Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n'))
        if (l.trim()) lines.push(JSON.parse(l) as (typeof lines)[number]);
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}
