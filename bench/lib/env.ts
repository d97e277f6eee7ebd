/**
 * The machine a run happened on, and how busy it was: figures without the load average beside them cannot be
 * compared (the development machine has 2 cores and other engineers' tests run on it).
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';

export interface MachineInfo {
  nproc: number;
  cpu: string;
  memory_gib: number;
  node: string;
  redis: string;
  kernel: string;
  /** The commit measured, `+` when the working tree had changes (other engineers' work in progress). */
  commit: string;
}

export function machineInfo(): MachineInfo {
  const redis =
    spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout?.match(/v=(\S+)/)?.[1] ?? 'not installed';
  const kernel = spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout?.trim() ?? '';
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout?.trim() || 'unknown';
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src', 'sinks'], {
    encoding: 'utf8',
  }).stdout?.trim();
  return {
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    memory_gib: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    redis,
    kernel,
    commit: `${head}${dirty ? '+' : ''}`,
  };
}

export interface LoadSummary {
  /** 1-minute load average at the start and end of the span, and its min/mean/max over 5-second samples. */
  start: number;
  end: number;
  min: number;
  mean: number;
  max: number;
}

/** Samples the 1-minute load average every 5 s over a span (a section, or the whole run). */
export class LoadMonitor {
  private readonly values: number[] = [loadavg()[0]!];
  private readonly timer = setInterval(() => this.values.push(loadavg()[0]!), 5000);

  constructor() {
    this.timer.unref();
  }

  stop(): LoadSummary {
    clearInterval(this.timer);
    this.values.push(loadavg()[0]!);
    const v = this.values;
    const round = (n: number) => Math.round(n * 10) / 10;
    return {
      start: round(v[0]!),
      end: round(v.at(-1)!),
      min: round(Math.min(...v)),
      mean: round(v.reduce((a, b) => a + b, 0) / v.length),
      max: round(Math.max(...v)),
    };
  }
}

export const loadText = (l: LoadSummary): string => `load ${l.start} → ${l.end} (mean ${l.mean}, max ${l.max})`;
