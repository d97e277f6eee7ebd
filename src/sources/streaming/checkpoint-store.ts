/**
 * The `@azure/event-hubs` `CheckpointStore` over Redis: partition ownership and checkpoints of a consumer group live
 * in the Redis alertbridge already uses (no second storage system), so several replicas share a hub's partitions and
 * a restart resumes where the last checkpoint is.
 *
 * Layout (src/pipeline/keys.ts), per (namespace, hub, consumer group), lower-cased as the service and the SDK's blob
 * store treat them: `eventHubOwnership` hash partitionId → JSON { ownerId, etag, lastModifiedTimeInMs };
 * `eventHubCheckpoints` hash partitionId → JSON { sequenceNumber, offset }.
 *
 * Claims are compare-and-set in Lua on the etag, as the blob store's conditional writes are: a claim naming no etag
 * succeeds only where nobody holds a record yet; one naming an etag only while the stored record still has it. A
 * claim that wins gets a new etag; the modification time is Redis's clock (one clock for every replica, so their
 * processors agree on which ownership has expired).
 */
import { randomUUID } from 'node:crypto';
import type { Checkpoint, CheckpointStore, PartitionOwnership } from '@azure/event-hubs';
import type { Redis } from 'ioredis';
import type { Keys } from '../../pipeline/keys.js';

/**
 * ARGV: triples (partitionId, expected etag or '', record JSON without etag/time) then the new etags, one per claim.
 * Returns, per claim, the stored time in ms, or false where the etag did not match.
 */
const CLAIM = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = #ARGV / 4
local out = {}
for i = 0, n - 1 do
  local pid, expected, owner, etag = ARGV[i * 4 + 1], ARGV[i * 4 + 2], ARGV[i * 4 + 3], ARGV[i * 4 + 4]
  local cur = redis.call('HGET', KEYS[1], pid)
  local ok
  if cur then
    local decoded, rec = pcall(cjson.decode, cur)
    ok = expected ~= '' and decoded and type(rec) == 'table' and rec.etag == expected
  else
    ok = expected == ''
  end
  if ok then
    redis.call('HSET', KEYS[1], pid, cjson.encode({ ownerId = owner, etag = etag, lastModifiedTimeInMs = now }))
    out[#out + 1] = now
  else
    out[#out + 1] = -1
  end
end
return out`;

interface StoredOwnership {
  ownerId: string;
  etag: string;
  lastModifiedTimeInMs: number;
}

interface StoredCheckpoint {
  sequenceNumber: number;
  offset: string;
}

export class RedisCheckpointStore implements CheckpointStore {
  constructor(
    private readonly redis: Redis,
    private readonly layout: Pick<Keys, 'eventHubOwnership' | 'eventHubCheckpoints'>,
  ) {}

  /** The Redis keys of one consumer group of one hub. */
  keys(namespace: string, hub: string, group: string): { ownership: string; checkpoints: string } {
    return {
      ownership: this.layout.eventHubOwnership(namespace, hub, group),
      checkpoints: this.layout.eventHubCheckpoints(namespace, hub, group),
    };
  }

  async listOwnership(namespace: string, hub: string, group: string): Promise<PartitionOwnership[]> {
    const all = await this.redis.hgetall(this.keys(namespace, hub, group).ownership);
    return Object.entries(all).flatMap(([partitionId, text]) => {
      const o = parse<StoredOwnership>(text);
      return o
        ? [{ fullyQualifiedNamespace: namespace, eventHubName: hub, consumerGroup: group, partitionId, ...o }]
        : [];
    });
  }

  /**
   * Claims what it can: each ownership whose etag still matches (or that nobody holds, without an etag) is taken,
   * and returned with its new etag and time; the others are left out, as the SDK expects (no error).
   */
  async claimOwnership(claims: PartitionOwnership[]): Promise<PartitionOwnership[]> {
    const groups = new Map<string, PartitionOwnership[]>();
    for (const c of claims) {
      const key = this.keys(c.fullyQualifiedNamespace, c.eventHubName, c.consumerGroup).ownership;
      groups.set(key, [...(groups.get(key) ?? []), c]);
    }
    const won: PartitionOwnership[] = [];
    for (const [key, group] of groups) {
      const etags = group.map(() => randomUUID());
      const args = group.flatMap((c, i) => [c.partitionId, c.etag ?? '', c.ownerId, etags[i]!]);
      const times = (await this.redis.eval(CLAIM, 1, key, ...args)) as number[];
      group.forEach((c, i) => {
        if (times[i]! >= 0) won.push({ ...c, etag: etags[i]!, lastModifiedTimeInMs: times[i]! });
      });
    }
    return won;
  }

  async updateCheckpoint(checkpoint: Checkpoint): Promise<void> {
    const { fullyQualifiedNamespace, eventHubName, consumerGroup, partitionId, sequenceNumber, offset } = checkpoint;
    if (!Number.isSafeInteger(sequenceNumber) || sequenceNumber < 0)
      throw new TypeError(`checkpoint of partition ${partitionId}: sequenceNumber ${sequenceNumber} is not valid`);
    const stored: StoredCheckpoint = { sequenceNumber, offset: String(offset) };
    await this.redis.hset(
      this.keys(fullyQualifiedNamespace, eventHubName, consumerGroup).checkpoints,
      partitionId,
      JSON.stringify(stored),
    );
  }

  async listCheckpoints(namespace: string, hub: string, group: string): Promise<Checkpoint[]> {
    const all = await this.redis.hgetall(this.keys(namespace, hub, group).checkpoints);
    return Object.entries(all).flatMap(([partitionId, text]) => {
      const c = parse<StoredCheckpoint>(text);
      return c
        ? [{ fullyQualifiedNamespace: namespace, eventHubName: hub, consumerGroup: group, partitionId, ...c }]
        : [];
    });
  }
}

/** A stored entry that is not JSON (someone wrote it by hand) counts as absent rather than stopping the processor. */
function parse<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}
