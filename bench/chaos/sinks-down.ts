/**
 * Each network sink down for a while and back, one after another, while alerts keep arriving: splunk_hec (the HEC
 * peer answers every request 503 "server busy"), azure_event_hubs (the AMQP peer drops its connections and
 * answers `server-busy`), kafka (the broker JVM is killed with `kill -9` and started again on the same data). A file
 * sink runs beside them throughout. Every acknowledged record must reach every sink.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKafkaBroker, type KafkaBroker } from '../../test/peers/kafka/broker.js';
import { createTopics, readAll } from '../../test/peers/kafka/reader.js';
import { metricSum, startDaemon } from '../lib/daemon.js';
import { forkPeer, type ChildPeer } from '../lib/peer-child.js';
import { graphAlerts } from '../lib/records.js';
import { startBenchRedis } from '../lib/redis.js';
import { sleep, until } from '../lib/stats.js';
import { DeliveryCounter } from '../lib/tail.js';
import { CHAOS_RETRY, PushSender, pushConfig, tally, type ChaosResult, type ScenarioOptions } from './common.js';

export type DownSink = 'hec' | 'eventhubs' | 'kafka';

/** True when Java and Maven are there for the Kafka broker. */
export function kafkaAvailable(): boolean {
  return ['java', 'mvn'].every((t) => !spawnSync(t, ['-version'], { stdio: 'ignore' }).error);
}

export async function sinksDown(
  o: ScenarioOptions & { sinks?: DownSink[]; outageMs?: number; rate?: number } = {},
): Promise<ChaosResult[]> {
  const sinks = o.sinks ?? (kafkaAvailable() ? ['hec', 'eventhubs', 'kafka'] : ['hec', 'eventhubs']);
  const outageMs = o.outageMs ?? 60_000;
  const rate = o.rate ?? 100;
  const log = o.log ?? (() => {});
  const t0 = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'alertbridge-chaos-sinks-'));
  const redis = await startBenchRedis();
  const out = join(dir, 'out.ndjson');
  let hec: ChildPeer | undefined;
  let eh: ChildPeer | undefined;
  let kafka: KafkaBroker | undefined;
  let daemon: Awaited<ReturnType<typeof startDaemon>> | undefined;
  const sender = new PushSender(() => daemon!.port, 20);
  const counter = new DeliveryCounter([out]);
  try {
    const lines = [`  - { name: file, type: file, path: "${out}", ${CHAOS_RETRY} }`];
    if (sinks.includes('hec')) {
      hec = await forkPeer('hec', { ack: false });
      lines.push(`  - { name: hec, type: splunk_hec, url: "${hec.address}", token: test-token, ${CHAOS_RETRY} }`);
    }
    if (sinks.includes('eventhubs')) {
      eh = await forkPeer('eventhubs', { hubs: { alerts: 4 } });
      lines.push(`  - { name: eventhubs, type: azure_event_hubs, connection_string: "${eh.address}", ${CHAOS_RETRY} }`);
    }
    if (sinks.includes('kafka')) {
      kafka = await startKafkaBroker();
      await createTopics(kafka.brokers, ['chaos'], 3);
      lines.push(
        `  - { name: kafka, type: kafka, brokers: ["${kafka.brokers[0]}"], topic: chaos, request_timeout_ms: 5000, ${CHAOS_RETRY} }`,
      );
    }
    daemon = await startDaemon({
      config: pushConfig(redis.url, 'sinks', lines.join('\n')),
      dir,
      name: 'sinks-down',
      runtime: o.runtime ?? 'tsx',
    });
    // Enough alerts to stream at `rate` through every outage and a few seconds around each.
    const gapMs = Math.min(5000, Math.max(1000, outageMs / 4));
    const streamMs = sinks.length * (outageMs + gapMs) + gapMs;
    const alerts = graphAlerts(Math.ceil((rate * streamMs) / 1000) + 100, o.seed ?? 13);
    let streaming = true;
    const stream = sender.send(alerts, { perSecond: rate, stop: () => !streaming });
    const outages: string[] = [];
    const healedAt = new Map<string, number>();
    const drainedAt = new Map<string, number>();
    await sleep(gapMs);
    for (const s of sinks) {
      const t = Date.now();
      log(`${s} down for ${outageMs / 1000} s`);
      if (s === 'hec') await hec!.setFaults({ busyRate: 1 });
      if (s === 'eventhubs') {
        await eh!.setFaults({ serverBusy: true });
        await eh!.drop();
      }
      if (s === 'kafka') await kafka!.kill();
      await sleep(outageMs);
      if (s === 'hec') await hec!.setFaults({ busyRate: 0 });
      if (s === 'eventhubs') await eh!.setFaults({ serverBusy: false });
      if (s === 'kafka') await kafka!.restart();
      outages.push(`${s} ${((Date.now() - t) / 1000).toFixed(0)} s`);
      const healed = Date.now();
      healedAt.set(s, healed);
      // How long the backlog of the outage takes to drain once the sink is back (no more than two batches left, as while keeping up).
      void until(
        async () => {
          const body = (await daemon!.get('/metrics')).body;
          return metricSum(body, 'alertbridge_queue_depth', { queue: `sink:${s}` }) <= 2;
        },
        300_000,
        250,
      ).then((ok) => ok && drainedAt.set(s, Date.now() - healed));
      await sleep(gapMs);
    }
    streaming = false;
    await stream;
    const streamEnd = Date.now();
    log(`outages done (${outages.join(', ')}); ${sender.acked.size} records acknowledged; waiting for every sink`);

    const expected = [...sender.acked];
    const seenOf = async (s: string): Promise<Map<string, number>> => {
      if (s === 'file') {
        counter.poll();
        return counter.seen;
      }
      if (s === 'hec' || s === 'eventhubs') {
        const peer = s === 'hec' ? hec! : eh!;
        const ids = await peer.seen();
        const st = await peer.stats();
        // The peers fold copies into counts; duplicates = events − distinct, attributed to the first id.
        const m = new Map(ids.map((id) => [id, 1]));
        if (st.events > st.distinct && ids[0]) m.set(ids[0], 1 + st.events - st.distinct);
        return m;
      }
      const msgs = await readAll(kafka!.brokers, ['chaos'], 60_000);
      const m = new Map<string, number>();
      for (const x of msgs) {
        const id = `${x.key}@${x.headers['alertbridge-revision']}`;
        m.set(id, (m.get(id) ?? 0) + 1);
      }
      return m;
    };
    const all = ['file', ...sinks];
    const caughtUp = new Map<string, number>();
    await until(
      async () => {
        for (const s of all) {
          if (s === 'kafka' || caughtUp.has(s)) continue; // kafka is read back once, at the end
          const seen = await seenOf(s);
          if (expected.every((id) => seen.has(id))) caughtUp.set(s, Date.now());
        }
        return all.every((s) => s === 'kafka' || caughtUp.has(s));
      },
      180_000,
      500,
    );
    if (kafka) {
      await until(
        async () => {
          const res = await daemon!.get('/metrics');
          return /alertbridge_queue_depth\{queue="sink:kafka"\} 0\b/.test(res.body);
        },
        180_000,
        500,
      );
      caughtUp.set('kafka', Date.now());
    }
    const results: ChaosResult[] = [];
    for (const s of all) {
      const notes = [
        `stream at ${rate} records/s; outages ${outages.join(', ')}`,
        `${sender.refusals} refused or unanswered pushes re-sent`,
      ];
      if (drainedAt.has(s))
        notes.push(`the outage's backlog drained ${(drainedAt.get(s)! / 1000).toFixed(1)} s after the sink came back`);
      if (caughtUp.has(s))
        notes.push(`every record there ${((caughtUp.get(s)! - streamEnd) / 1000).toFixed(1)} s after the stream ended`);
      results.push(
        tally(
          s === 'file' ? 'file sink beside the outages' : `${s} down ${outageMs / 1000} s and back`,
          expected,
          await seenOf(s),
          (Date.now() - t0) / 1000,
          notes,
        ),
      );
    }
    return results;
  } finally {
    counter.close();
    await daemon?.kill();
    await sender.close();
    await hec?.close();
    await eh?.close();
    await kafka?.stop();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
