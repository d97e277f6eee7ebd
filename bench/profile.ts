/**
 * Where the pipeline's time goes: runs the pipeline once (emit → … → sink acknowledgement, as in the throughput
 * bench) with V8's CPU profiler (the one behind `node --cpu-prof`) on for the run alone, writes the profile to
 * `.cache/bench/prof/` (open it in Chrome DevTools), and summarizes it by self time — per function and per package
 * (ioredis, bullmq, kafkajs, alertbridge's own code, GC). `--summarize` reads any `.cpuprofile`, e.g. one a daemon
 * wrote under `node --cpu-prof`.
 *
 *   npx tsx bench/profile.ts [--sink file|kafka|hec|eventhubs] [--records 20000] [--top 25]
 *   npx tsx bench/profile.ts --summarize FILE.cpuprofile     # summarize any profile (e.g. a daemon's)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CACHE_DIR, ROOT } from './lib/paths.js';
import { table } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    sink: { type: 'string', default: 'file' },
    records: { type: 'string', default: '20000' },
    top: { type: 'string', default: '25' },
    summarize: { type: 'string' },
  },
});

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** The package (or area) a frame belongs to. */
function area(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  if (url.startsWith('node:')) return 'node core';
  const own =
    /\/work\/[^/]+\/[^/]+\/((?:src|sinks|bench|test)\/[^/]+)/.exec(url) ??
    /\/((?:src|sinks|bench|test)\/[^/]+)/.exec(url);
  return own ? own[1]! : url;
}

export function summarize(file: string, top: number): string {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fns = new Map<string, number>();
  const areas = new Map<string, number>();
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const short = url.replace(/^file:\/\//, '').replace(ROOT, '');
    const name = `${functionName || '(anonymous)'} ${short ? `${short}:${lineNumber + 1}` : ''}`.trim();
    fns.set(name, (fns.get(name) ?? 0) + us);
    const a = area(url, functionName);
    areas.set(a, (areas.get(a) ?? 0) + us);
  }
  const pct = (us: number) => `${((100 * us) / total).toFixed(1)}%`;
  const busy = total - (areas.get('(idle)') ?? 0);
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return [
    `profile ${file}: ${(total / 1e6).toFixed(1)} s sampled, ${pct(busy)} busy (not idle)`,
    '',
    table(
      ['area', 'self time', 'share'],
      sorted(areas)
        .slice(0, 15)
        .map(([k, v]) => [k, `${(v / 1000).toFixed(0)} ms`, pct(v)]),
    ),
    '',
    table(
      ['function', 'self time', 'share'],
      sorted(fns)
        .slice(0, top)
        .map(([k, v]) => [k, `${(v / 1000).toFixed(0)} ms`, pct(v)]),
    ),
  ].join('\n');
}

/** Runs the pipeline once with V8's CPU profiler on around the run itself (not data generation or start-up). */
async function profileRun(): Promise<string> {
  const { Session } = await import('node:inspector/promises');
  const { startBenchRedis } = await import('./lib/redis.js');
  const { benchRecords } = await import('./lib/records.js');
  const { benchLogger, runPipeline } = await import('./lib/pipeline.js');
  const { sinkFormat } = await import('../src/record/format.js');
  const n = Number(args.records);
  const records = benchRecords(n);
  const redis = await startBenchRedis();
  const format = sinkFormat('envelope');
  let stop = async () => {};
  let sink;
  if (args.sink === 'file') {
    const { createFileSink } = await import('../sinks/file/index.js');
    sink = createFileSink({
      config: (await import('../sinks/file/config.js')).FileSinkSchema.parse({
        type: 'file',
        name: 'file',
        path: '/dev/null',
      }),
      logger: benchLogger,
      ...format,
    });
  } else if (args.sink === 'kafka') {
    const { startKafkaBroker } = await import('../test/peers/kafka/broker.js');
    const { createKafkaSink } = await import('../sinks/kafka/index.js');
    const broker = await startKafkaBroker();
    stop = () => broker.stop();
    sink = createKafkaSink({
      config: (await import('../sinks/kafka/config.js')).KafkaSinkSchema.parse({
        type: 'kafka',
        name: 'kafka',
        brokers: broker.brokers,
        topic: 'profile',
        compression: 'gzip',
      }),
      logger: benchLogger,
      ...format,
    });
  } else {
    const { forkPeer } = await import('./lib/peer-child.js');
    if (args.sink === 'hec') {
      const peer = await forkPeer('hec', { ack: false });
      stop = () => peer.close();
      const { createSplunkHecSink } = await import('../sinks/splunk-hec/index.js');
      sink = createSplunkHecSink({
        config: (await import('../sinks/splunk-hec/config.js')).SplunkHecSinkSchema.parse({
          type: 'splunk_hec',
          name: 'hec',
          url: peer.address,
          token: 'test-token',
        }),
        logger: benchLogger,
        ...format,
      });
    } else {
      const peer = await forkPeer('eventhubs', { hubs: { alerts: 8 } });
      stop = () => peer.close();
      const { createEventHubsSink } = await import('../sinks/azure-event-hubs/index.js');
      sink = createEventHubsSink({
        config: (await import('../sinks/azure-event-hubs/config.js')).EventHubsSinkSchema.parse({
          type: 'azure_event_hubs',
          name: 'eventhubs',
          connection_string: peer.address,
        }),
        logger: benchLogger,
        ...format,
      });
    }
  }
  await sink.start();
  // A warm-up run, so that the profile shows the steady state rather than the JIT compiling.
  await runPipeline({ redisUrl: redis.url, prefix: 'warm', sink, records: records.slice(0, Math.min(2000, n)) });
  await redis.flush();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  const run = await runPipeline({ redisUrl: redis.url, prefix: 'profile', sink, records });
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  console.log(
    `${args.sink}: ${n} records in ${(run.ms / 1000).toFixed(1)} s (${Math.round(n / (run.ms / 1000))} records/s, emit alone ${Math.round(n / (run.emitMs / 1000))}/s)`,
  );
  await sink.close();
  await stop();
  await redis.stop();
  const dir = join(CACHE_DIR, 'prof');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `pipeline-${args.sink}-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  return file;
}

if (args.summarize) {
  console.log(summarize(args.summarize, Number(args.top)));
} else {
  console.log(summarize(await profileRun(), Number(args.top)));
  process.exit(0);
}
