import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { crc32 } from 'node:zlib';
import { clusterSlot, INBOX_SHARDS, keysFor, shardOf } from '../../src/pipeline/keys.js';

const ROOT = join(import.meta.dirname, '..', '..');
const LAYOUT_MODULE = 'src/pipeline/keys.ts';

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.[cm]?[jt]s$/.test(e.name))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

/** `${prefix}:`, `${opts.key_prefix}:`, `prefix + ':'` — a Redis key built by hand. */
const HAND_BUILT_KEY = /\$\{[\w.?]*prefix\}:|prefix\s*\+\s*['"`]:/;

describe('Redis key layout', () => {
  it('is built only by src/pipeline/keys.ts: no `${prefix}:…` concatenation anywhere else in src/ or sinks/', () => {
    const offenders: string[] = [];
    for (const file of [...sourceFiles('src'), ...sourceFiles('sinks')]) {
      if (file === LAYOUT_MODULE) continue;
      readFileSync(join(ROOT, file), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (HAND_BUILT_KEY.test(line)) offenders.push(`${file}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(offenders, 'build these keys in src/pipeline/keys.ts').toEqual([]);
  });

  it('the check itself catches a hand-built key', () => {
    expect(HAND_BUILT_KEY.test('const k = `${deps.prefix}:budget:${t}`;')).toBe(true);
    expect(HAND_BUILT_KEY.test('const k = `${config.redis.key_prefix}:notifications`;')).toBe(true);
    expect(HAND_BUILT_KEY.test("const k = prefix + ':inbox';")).toBe(true);
    expect(HAND_BUILT_KEY.test('const k = keys.inbox;')).toBe(false);
    expect(HAND_BUILT_KEY.test(' * - `{prefix}:sync:{source}:queue`, a stream')).toBe(false);
  });

  it("builds this layout, byte for byte (a change here moves every deployment's data: make it on purpose)", () => {
    const k = keysFor('ab');
    const rk = 't/alerts_v2/p/1';
    expect(k.shardOf(rk)).toBe(crc32(rk) % INBOX_SHARDS);
    expect({
      inboxShards: k.inboxShards,
      shardOfSample: k.shardOf(rk),
      inbox: k.inbox(0),
      inboxGroup: k.inboxGroup,
      batch: k.batch(1, 'B1'),
      batchRefs: k.batchRefs(3, '1-0'),
      dedup: k.dedup(rk),
      changeSummary: k.changeSummary(rk),
      deadLetters: k.deadLetters('s'),
      replaying: k.replaying('s'),
      replayJob: k.replayJob('s'),
      replayLock: k.replayLock('s'),
      sinkQueue: k.sinkQueue('s'),
      deadLetteringClaim: k.deadLetteringClaim('ab:{sink-s}:7'),
      notifications: k.notifications,
      notificationsGroup: k.notificationsGroup,
      cursor: k.cursor('src', 'alerts_v2'),
      cursorSkips: k.cursorSkips('src', 'alerts_v2'),
      pollLease: k.pollLease('src', 'alerts_v2'),
      subscriptionLease: k.subscriptionLease('src'),
      subscription: k.subscription('src'),
      budget: k.budget('tenant', 'client'),
      legacyLastData: k.legacyLastData('src'),
      syncQueue: k.syncQueue('src'),
      syncChange: k.syncChange('src', 'c1'),
      syncDead: k.syncDead('src'),
      syncLease: k.syncLease('src'),
      eventHubOwnership: k.eventHubOwnership('NS.servicebus.windows.net', 'Hub', '$Default'),
      eventHubCheckpoints: k.eventHubCheckpoints('ns', 'hub', 'g'),
      streamingPending: k.streamingPending('src', 'da1'),
      streamingBurst: k.streamingBurst('src'),
    }).toEqual({
      inboxShards: 4,
      shardOfSample: 2,
      inbox: 'ab:inbox:{i0}',
      inboxGroup: 'dispatch',
      batch: 'ab:batch:{i1}:B1',
      batchRefs: 'ab:refs:{i3}:1-0',
      dedup: 'ab:dd:{i2}:t/alerts_v2/p/1',
      changeSummary: 'ab:dc:{i2}:t/alerts_v2/p/1',
      deadLetters: 'ab:dlq:{sink-s}',
      replaying: 'ab:dlq-replaying:{sink-s}',
      replayJob: 'ab:dlq-replaying:{sink-s}:job',
      replayLock: 'ab:dlq-replaying:{sink-s}:lock',
      sinkQueue: '{sink-s}',
      deadLetteringClaim: 'ab:{sink-s}:7:dead-lettering',
      notifications: 'ab:notifications:{notify}',
      notificationsGroup: 'fetch',
      cursor: 'ab:cursor:{src:alerts_v2}',
      cursorSkips: 'ab:cursor-skips:{src:alerts_v2}',
      pollLease: 'ab:lease:src:alerts_v2',
      subscriptionLease: 'ab:lease:src:subscriptions',
      subscription: 'ab:subscription:src',
      budget: 'ab:budget:tenant:client',
      legacyLastData: 'ab:legacy_last_data:src',
      syncQueue: 'ab:sync:{src}:queue',
      syncChange: 'ab:sync:{src}:change:c1',
      syncDead: 'ab:sync:{src}:dead',
      syncLease: 'ab:sync:{src}:lease',
      eventHubOwnership: 'ab:eh:ns.servicebus.windows.net/hub/$default:ownership',
      eventHubCheckpoints: 'ab:eh:ns/hub/g:checkpoints',
      streamingPending: 'ab:streaming-pending:{notify}:src:da1',
      streamingBurst: 'ab:streaming-burst:{notify}:src',
    });
  });

  it('keeps the keys used together in one Redis Cluster slot, and spreads the groups over the slots', () => {
    const k = keysFor('alertbridge');
    const slots = (keys: string[]) => new Set(keys.map(clusterSlot));
    // The known answer of the Redis Cluster spec: CRC16("123456789") = 0x31C3.
    expect(clusterSlot('123456789')).toBe(0x31c3 % 16384);
    expect(clusterSlot('a{123456789}b')).toBe(clusterSlot('123456789'));
    const shardSlots = new Set<number>();
    for (let shard = 0; shard < k.inboxShards; shard++) {
      // dedup.ts' script, batch-lifetime.ts' release script and the dispatcher's acknowledging MULTI.
      const keysOf = Array.from({ length: 200 }, (_, i) => `tenant/alerts_v2/mde/${i}`).filter(
        (rk) => k.shardOf(rk) === shard,
      );
      expect(keysOf.length).toBeGreaterThan(0);
      const group = [
        k.inbox(shard),
        k.batch(shard, 'B'),
        k.batchRefs(shard, '1-0'),
        ...keysOf.map((rk) => k.dedup(rk)),
        ...keysOf.map((rk) => k.changeSummary(rk)),
      ];
      expect(slots(group).size).toBe(1);
      shardSlots.add(clusterSlot(group[0]!));
    }
    expect(shardSlots.size).toBe(k.inboxShards);
    // A sink: its BullMQ queue (prefix:{queue}:…), job claims, dead letters and replay state.
    const queueKey = `alertbridge:${k.sinkQueue('hec')}:wait`;
    expect(
      slots([
        queueKey,
        k.deadLetteringClaim(`alertbridge:${k.sinkQueue('hec')}:7`),
        k.deadLetters('hec'),
        k.replaying('hec'),
        k.replayJob('hec'),
        k.replayLock('hec'),
      ]).size,
    ).toBe(1);
    expect(clusterSlot(queueKey)).not.toBe(clusterSlot(`alertbridge:${k.sinkQueue('kafka')}:wait`));
    // The streaming source's script; `cursor skip`'s MULTI; write-back's scripts.
    expect(
      slots([k.notifications, k.streamingPending('s', 'a1'), k.streamingPending('t', 'b2'), k.streamingBurst('s')])
        .size,
    ).toBe(1);
    expect(slots([k.cursor('s', 'alerts_v2'), k.cursorSkips('s', 'alerts_v2')]).size).toBe(1);
    expect(slots([k.syncQueue('s'), k.syncChange('s', 'c1'), k.syncDead('s'), k.syncLease('s')]).size).toBe(1);
  });

  it('spreads record keys over the inbox shards', () => {
    const counts = new Array<number>(INBOX_SHARDS).fill(0);
    for (let i = 0; i < 4000; i++) counts[shardOf(`tenant/alerts_v2/mde/da${i}`)]!++;
    for (const n of counts) expect(n).toBeGreaterThan(800);
  });
});
