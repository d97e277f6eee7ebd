/**
 * A Redis lease: only its holder polls a given (source, resource). Renewed while held; when the holder dies the
 * lease expires and another replica takes over (Cribl's "one scheduler per job", peers-lessons #8).
 */
import type { Redis } from 'ioredis';

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

export class Lease {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly redis: Redis,
    readonly key: string,
    private readonly replicaId: string,
    readonly takeoverMs: number,
  ) {}

  async acquire(): Promise<boolean> {
    return (await this.redis.set(this.key, this.replicaId, 'PX', this.takeoverMs, 'NX')) === 'OK';
  }

  /** Keeps the lease alive every ttl/3; `onLost` is called once if it was taken away (or Redis failed). */
  keepAlive(onLost: () => void): void {
    this.stopKeepAlive();
    this.timer = setInterval(
      () => {
        this.redis.eval(RENEW, 1, this.key, this.replicaId, this.takeoverMs).then(
          (ok) => {
            if (ok !== 1) {
              this.stopKeepAlive();
              onLost();
            }
          },
          () => {
            this.stopKeepAlive();
            onLost();
          },
        );
      },
      Math.max(100, Math.floor(this.takeoverMs / 3)),
    );
    this.timer.unref();
  }

  async release(): Promise<void> {
    this.stopKeepAlive();
    await this.redis.eval(RELEASE, 1, this.key, this.replicaId).catch(() => undefined);
  }

  private stopKeepAlive(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
