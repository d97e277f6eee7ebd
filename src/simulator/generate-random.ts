/**
 * The generator's seeded randomness and clock: no dependency, the same seed gives the same objects on every platform.
 */

/**
 * mulberry32: a seeded PRNG giving floats in [0, 1) (32-bit state; fast, and plenty for realistic-looking fixtures and
 * repeatable fault dice). The one copy in the project: the simulator, the test peers and the benches all draw from it
 * (tests and benches through test/helpers/random.ts).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random draws from mulberry32. */
export class Random {
  private readonly draw: () => number;

  constructor(seed: number) {
    this.draw = mulberry32(seed);
  }

  /** A float in [0, 1). */
  next(): number {
    return this.draw();
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.int(0, items.length - 1)] as T;
  }

  /** One of `items`, drawn by the weights in `[item, weight]` pairs. */
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    const total = items.reduce((sum, [, w]) => sum + w, 0);
    let r = this.next() * total;
    for (const [item, w] of items) {
      r -= w;
      if (r < 0) return item;
    }
    return (items[items.length - 1] as readonly [T, number])[0];
  }

  /** `count` distinct items in random order (all of them when `count` exceeds the list). */
  sample<T>(items: readonly T[], count: number): T[] {
    const pool = [...items];
    for (let i = pool.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [pool[i], pool[j]] = [pool[j] as T, pool[i] as T];
    }
    return pool.slice(0, Math.min(count, pool.length));
  }

  digits(n: number): string {
    let s = String(this.int(1, 9));
    while (s.length < n) s += String(this.int(0, 9));
    return s;
  }

  hex(n: number): string {
    let s = '';
    while (s.length < n)
      s += Math.floor(this.next() * 4294967296)
        .toString(16)
        .padStart(8, '0');
    return s.slice(0, n);
  }

  /** A random (version 4 shaped) GUID. */
  guid(): string {
    const h = this.hex(32);
    const variant = '89ab'[this.int(0, 3)] as string;
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }

  ipv4Public(): string {
    const first = this.pick([20, 23, 40, 45, 52, 62, 77, 81, 91, 103, 104, 109, 131, 145, 176, 185, 193, 203, 212]);
    return `${first}.${this.int(0, 255)}.${this.int(0, 255)}.${this.int(1, 254)}`;
  }

  ipv4Private(): string {
    return `10.${this.int(0, 40)}.${this.int(0, 255)}.${this.int(2, 254)}`;
  }
}

/** .NET ticks (100 ns) per millisecond: Graph timestamps carry seven fractional digits. */
export const TICKS_PER_MS = 10_000n;
export const TICKS_PER_SECOND = 10_000_000n;

/** Ticks since the epoch for an ISO timestamp (any fraction length); null when unparseable. */
export function ticksOf(iso: string): bigint | null {
  const m = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(iso);
  if (!m) return null;
  const seconds = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(seconds)) return null;
  const fraction = BigInt((m[2] ?? '').slice(0, 7).padEnd(7, '0'));
  return BigInt(seconds) * TICKS_PER_MS + fraction;
}

/** `YYYY-MM-DDTHH:MM:SS.fffffffZ`, Graph's usual form. */
export function isoTicks(ticks: bigint): string {
  const ms = ticks / TICKS_PER_MS;
  const whole = new Date(Number(ms - (ms % 1000n))).toISOString().slice(0, 19);
  return `${whole}.${(ticks % TICKS_PER_SECOND).toString().padStart(7, '0')}Z`;
}

/** `YYYY-MM-DDTHH:MM:SSZ`: secure scores are stamped to the second. */
export function isoSeconds(ticks: bigint): string {
  return `${new Date(Number(ticks / TICKS_PER_MS)).toISOString().slice(0, 19)}Z`;
}

/** `YYYY-MM-DDTHH:MM:SS.fffZ`: some v2 activity times are in milliseconds. */
export function isoMillis(ticks: bigint): string {
  return new Date(Number(ticks / TICKS_PER_MS)).toISOString();
}
