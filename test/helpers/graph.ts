/** A Graph source wired to a real test pipeline, pointed at a simulator, with its config built by the real loader. */
import type { HealthReporter } from '../../src/health/reporter.js';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, afterEach } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { GraphSourceConfig } from '../../src/config/schema.js';
import { GraphSource } from '../../src/sources/graph/source.js';
import type { Poller } from '../../src/sources/graph/poller.js';
import type { Simulator, SimulatorFaultsUpdate } from '../../src/simulator/types.js';
import { RecordingSink } from '../peers/recording-sink.js';
import { cleanup, startTestPipeline, type TestPipeline } from './pipeline.js';
import { redisUrl } from './redis.js';
import { mintReplicaId } from '../../src/pipeline/replica.js';

export interface SourceSpec {
  name: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  resources?: string[];
  extra?: string;
  pollIntervalMs?: number;
  /** Graph endpoint instead of the simulator's (a proxy in front of it); tokens still come from the simulator. */
  graphUrl?: string;
}

export function graphSourceConfig(sim: Simulator, spec: SourceSpec): GraphSourceConfig {
  const yaml = `
sources:
  - name: ${spec.name}
    type: graph_security
    tenant_id: ${spec.tenantId}
    client_id: ${spec.clientId}
    client_secret: "${spec.clientSecret}"
    graph_url: ${spec.graphUrl ?? sim.url}
    authority_url: ${sim.authorityHost}
    ca_file: ${sim.caFile}
    resources: [${(spec.resources ?? ['alerts_v2']).join(', ')}]
    poll_interval_ms: ${spec.pollIntervalMs ?? 1000}
${spec.extra ?? ''}
sinks:
  - { name: out, type: file, path: /dev/null }
`;
  const res = parseConfig(yaml, { baseDir: '/', env: {} });
  if (!res.ok) throw new Error(res.errors.join('\n'));
  return res.config.sources[0] as GraphSourceConfig;
}

/** Log lines as objects, for assertions on what an operator would read. */
export function captureLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

export interface GraphHarness {
  tp: TestPipeline;
  sink: RecordingSink;
  /** `health`: a reporter for the source's health conditions (src/health/), when the test looks at them. */
  source(cfg: GraphSourceConfig, logger?: pino.Logger, health?: HealthReporter): GraphSource;
  close(): Promise<void>;
}

export async function graphHarness(opts: { prefix?: string } = {}): Promise<GraphHarness> {
  const sink = new RecordingSink('out');
  const tp = await startTestPipeline([{ sink, maxRecords: 200 }], { prefix: opts.prefix });
  const sources: GraphSource[] = [];
  return {
    tp,
    sink,
    source(cfg, logger, health) {
      const s = new GraphSource(cfg, {
        redis: tp.redis,
        prefix: tp.prefix,
        emit: (r) => tp.pipeline.emit(r),
        metrics: tp.metrics,
        logger: logger ?? pino({ level: 'silent' }),
        takeoverMs: 5000,
        replicaId: mintReplicaId(),
        health,
      });
      sources.push(s);
      return s;
    },
    async close() {
      for (const s of sources) await s.stop();
    },
  };
}

/**
 * The hooks of a test file that shares one simulator: after each test its harness is closed and its Redis prefix
 * deleted, the `reset` faults applied and the request log cleared; after all, the simulator is closed. Returns how a
 * test gets its harness.
 */
export function simulatorHooks(sim: Simulator, reset: SimulatorFaultsUpdate = {}): () => Promise<GraphHarness> {
  let current: GraphHarness | undefined;
  afterEach(async () => {
    await current?.close();
    await cleanup(current?.tp);
    current = undefined;
    sim.setFaults(reset);
    sim.clearLog();
  });
  afterAll(() => sim.close());
  return async () => (current = await graphHarness());
}

/** Polls now, whatever the schedule says (the lease still applies). */
export const pollNow = (p: Poller) => p.tick(Date.now() + 3_600_000);

export { redisUrl };
