import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keysFor } from '../../src/pipeline/keys.js';

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

  it('builds the keys existing deployments already hold, byte for byte', () => {
    const k = keysFor('ab');
    expect({
      inbox: k.inbox,
      inboxGroup: k.inboxGroup,
      batch: k.batch('B1'),
      batchRefs: k.batchRefs('1-0'),
      dedup: k.dedup('t/alerts_v2/p/1'),
      deadLetters: k.deadLetters('s'),
      replaying: k.replaying('s'),
      replayJob: k.replayJob('s'),
      replayLock: k.replayLock('s'),
      sinkQueue: k.sinkQueue('s'),
      deadLetteringClaim: k.deadLetteringClaim('ab:sink-s:7'),
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
    }).toEqual({
      inbox: 'ab:inbox',
      inboxGroup: 'dispatch',
      batch: 'ab:batch:B1',
      batchRefs: 'ab:refs:1-0',
      dedup: 'ab:dd:t/alerts_v2/p/1',
      deadLetters: 'ab:dlq:s',
      replaying: 'ab:dlq-replaying:s',
      replayJob: 'ab:dlq-replaying:s:job',
      replayLock: 'ab:dlq-replaying:s:lock',
      sinkQueue: 'sink-s',
      deadLetteringClaim: 'ab:sink-s:7:dead-lettering',
      notifications: 'ab:notifications',
      notificationsGroup: 'fetch',
      cursor: 'ab:cursor:src:alerts_v2',
      cursorSkips: 'ab:cursor-skips:src:alerts_v2',
      pollLease: 'ab:lease:src:alerts_v2',
      subscriptionLease: 'ab:lease:src:subscriptions',
      subscription: 'ab:subscription:src',
      budget: 'ab:budget:tenant:client',
      legacyLastData: 'ab:legacy_last_data:src',
      syncQueue: 'ab:sync:src:queue',
      syncChange: 'ab:sync:src:change:c1',
      syncDead: 'ab:sync:src:dead',
      syncLease: 'ab:sync:src:lease',
      eventHubOwnership: 'ab:eh:ns.servicebus.windows.net/hub/$default:ownership',
      eventHubCheckpoints: 'ab:eh:ns/hub/g:checkpoints',
      streamingPending: 'ab:streaming-pending:src:da1',
    });
  });
});
