/**
 * What the kernel says about a process (Linux /proc): resident memory and CPU time, and a sampler that keeps a
 * series of RSS readings. Benches read other processes this way (daemons, redis-server, peers, the Kafka JVM), so
 * every figure comes from the same source.
 */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on every Linux we run on). */
const HZ = 100;

/** Resident set size in bytes (VmRSS), or 0 once the process is gone. */
export function rssBytes(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** User + system CPU milliseconds the process has used so far, or 0 once it is gone. */
export function cpuMs(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / HZ;
  } catch {
    return 0;
  }
}

/** CPU used by this process, in ms (process.cpuUsage is finer than /proc). */
export function ownCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** CPU time of several processes over an interval: `stop()` gives each one's share of one core, in percent. */
export class CpuMeter {
  private readonly start = new Map<string, number>();
  private readonly t0 = performance.now();

  constructor(private readonly pids: Record<string, number | undefined>) {
    for (const [name, pid] of Object.entries(pids)) this.start.set(name, name === 'self' ? ownCpuMs() : cpuMs(pid));
  }

  /** Percent of one core used by each process since construction; `self` is reported as `selfName`. */
  stop(selfName = 'self'): Record<string, number> {
    const wall = performance.now() - this.t0;
    const out: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.pids)) {
      const used = (name === 'self' ? ownCpuMs() : cpuMs(pid)) - (this.start.get(name) ?? 0);
      out[name === 'self' ? selfName : name] = Math.round((100 * used) / Math.max(1, wall));
    }
    return out;
  }
}

export interface RssSample {
  /** ms since the sampler started. */
  t: number;
  rss: number;
  /** What the caller noted at that moment (a backlog size, a phase). */
  mark?: number;
}

/** Samples a process's RSS every `everyMs` until stopped. */
export class RssSampler {
  readonly samples: RssSample[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly t0 = Date.now();
  /** Read by every sample: lets the caller attach a figure (e.g. the backlog) to each reading. */
  mark: number | undefined;

  constructor(
    private readonly pid: number | undefined,
    everyMs = 250,
  ) {
    this.timer = setInterval(() => this.take(), everyMs);
    this.timer.unref();
    this.take();
  }

  private take(): void {
    const rss = rssBytes(this.pid);
    if (rss > 0) this.samples.push({ t: Date.now() - this.t0, rss, mark: this.mark });
  }

  /** ms since the sampler started (the time base of `samples`). */
  now(): number {
    return Date.now() - this.t0;
  }

  stop(): RssSample[] {
    clearInterval(this.timer);
    this.take();
    return this.samples;
  }

  /** Peak RSS over the samples taken after `fromMs` (ms since start). */
  peak(fromMs = 0): number {
    return this.samples.filter((s) => s.t >= fromMs).reduce((a, s) => Math.max(a, s.rss), 0);
  }
}
