/**
 * Turns persisted change notifications into records: reads the notification stream in a consumer group (every
 * replica takes part), fetches each alert by id (`GET /security/alerts/{id}`, with the poller's budget and
 * throttling rules), and emits it with `via: webhook`. An entry is acknowledged only after its record is durably
 * queued; entries of a replica that died are taken over. Dedup makes the overlap with polling invisible.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { normalize } from '../../record/normalize.js';
import type { AlertRecord } from '../../record/types.js';
import type { EmitResult } from '../../pipeline/pipeline.js';
import { sleep } from './budget.js';
import { GraphRequestError, type GraphClient } from './client.js';

export interface NotificationWorkerOptions {
  redis: Redis;
  streamKey: string;
  clients: ReadonlyMap<string, { client: GraphClient; tenantId: string }>;
  emit: (records: AlertRecord[]) => Promise<EmitResult>;
  logger: Logger;
  /** Entries held this long by a silent consumer are taken over. */
  takeoverMs: number;
  /** Alerts fetched at once. @defaultValue 8 */
  concurrency?: number;
}

type Entries = Array<[string, string[]]>;
const GROUP = 'fetch';

export class NotificationWorker {
  private readonly consumer = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private readonly abort = new AbortController();
  private loop?: Promise<void>;
  private lastClaim = 0;
  private readonly log: Logger;

  constructor(private readonly opts: NotificationWorkerOptions) {
    this.log = opts.logger.child({ component: 'webhook-worker' });
  }

  async start(): Promise<void> {
    await this.opts.redis.xgroup('CREATE', this.opts.streamKey, GROUP, '0', 'MKSTREAM').catch((err: Error) => {
      if (!err.message.includes('BUSYGROUP')) throw err;
    });
    this.loop = this.run();
  }

  async close(): Promise<void> {
    this.abort.abort(new Error('closing'));
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.abort.signal.aborted) {
      try {
        const entries = await this.next();
        if (entries.length) await this.handle(entries);
        failures = 0;
      } catch (err) {
        if (this.abort.signal.aborted) break;
        failures++;
        this.log.error({ err: (err as Error).message }, 'processing notifications failed; retrying');
        await sleep(Math.min(30_000, 500 * 2 ** Math.min(failures, 6)), this.abort.signal).catch(() => undefined);
      }
    }
  }

  private async next(): Promise<Entries> {
    const { redis, streamKey, takeoverMs } = this.opts;
    if (Date.now() - this.lastClaim > Math.min(takeoverMs, 5000)) {
      this.lastClaim = Date.now();
      const [, claimed] = (await redis.xautoclaim(streamKey, GROUP, this.consumer, takeoverMs, '0', 'COUNT', 50)) as [string, Entries];
      const live = claimed.filter((e) => Array.isArray(e?.[1]));
      if (live.length) return live;
    }
    // Short blocks: the command connection is shared, and close() should not wait long.
    const res = (await redis.xreadgroup('GROUP', GROUP, this.consumer, 'COUNT', 50, 'BLOCK', 500, 'STREAMS', streamKey, '>')) as Array<[string, Entries]> | null;
    return res?.[0]?.[1] ?? [];
  }

  private async handle(entries: Entries): Promise<void> {
    const done: string[] = [];
    const records: AlertRecord[] = [];
    const queue = [...entries];
    const work = async (): Promise<void> => {
      for (let e = queue.shift(); e; e = queue.shift()) {
        const [entryId, fields] = e;
        const f = Object.fromEntries(fields.reduce<Array<[string, string]>>((acc, v, i) => (i % 2 ? acc : [...acc, [v, fields[i + 1]!]]), []));
        const src = this.opts.clients.get(f.s ?? '');
        if (!src || !f.id) {
          done.push(entryId); // a source removed from the config: nothing to fetch with
          continue;
        }
        try {
          const res = await src.client.get<Record<string, unknown>>(`/security/alerts/${encodeURIComponent(f.id)}`, 'alerts', this.abort.signal);
          if (res.status === 206 && !res.body.id) {
            // The alert's provider failed (206 with a Warning): leave the entry pending, it is fetched again later.
            this.log.warn({ source: f.s, id: f.id, providers: res.partial.map((p) => p.provider) }, 'notified alert not returned (206): will retry');
            continue;
          }
          const n = normalize('alerts', res.body, { source: f.s!, via: 'webhook', tenantId: src.tenantId });
          if (n.ok) records.push(n.record);
          else this.log.warn({ source: f.s, id: f.id, reason: n.reason }, 'notified alert could not be normalized');
          done.push(entryId);
        } catch (err) {
          if (err instanceof GraphRequestError && err.status === 404) {
            this.log.info({ source: f.s, id: f.id }, 'notified alert no longer exists');
            done.push(entryId);
          } else if (!this.abort.signal.aborted) {
            // Left pending: retried after takeover_ms (by this or another replica), and polling is the safety net.
            this.log.warn({ source: f.s, id: f.id, err: (err as Error).message }, 'fetching a notified alert failed; will retry');
          }
        }
      }
    };
    await Promise.all(Array.from({ length: this.opts.concurrency ?? 8 }, work));
    if (records.length) await this.opts.emit(records);
    if (done.length) await this.opts.redis.multi().xack(this.opts.streamKey, GROUP, ...done).xdel(this.opts.streamKey, ...done).exec();
  }
}
