/**
 * `alertbridge doctor --config F [--source S] [--sink K] [--json]`: checks, one by one, what the daemon will need —
 * Redis (version, persistence, eviction policy), every source (token, permissions, one read per resource, clock
 * skew, request budget; push secrets; the Defender stream's hub and consumer group) and every sink (reachable,
 * credentials accepted, destination exists, may write) — each through a harmless call bounded by `--timeout`.
 * Prints a table with ✓/✗ and, for each ✗, what to do; `--json` for scripts. Exit 0 only when nothing failed (a
 * warning is not a failure), else 1. Secrets are never printed: every configured secret is masked in every line.
 */
import type { Logger } from 'pino';
import { probeSink } from '../../sinks/registry.js';
import type { ProbeResult, ProbeSample } from '../../sinks/types.js';
import type { Config } from '../config/schema.js';
import { connect, describeRedisFailure } from '../pipeline/redis.js';
import { withTimeout } from '../util/timeout.js';
import { CliExit, EXIT } from './common.js';
import { redisChecks } from './doctor-redis.js';
import { graphSourceChecks, pushSecretChecks } from './doctor-sources.js';
import { streamingChecks } from './doctor-streaming.js';

export interface DoctorOptions {
  source?: string;
  sink?: string;
  json?: boolean;
  /** Bound of each check (a check that makes several calls bounds each); `--timeout`, 10000 by default. */
  timeoutMs: number;
  out?: (text: string) => void;
}

export interface DoctorLine extends ProbeResult {
  component: string;
}

const MARK = { pass: '✓', warn: '!', fail: '✗', skip: '-' } as const;

/** Names of config fields that hold secrets (their values are masked in every line the doctor prints). */
const SECRET_KEYS = new Set([
  'client_secret',
  'certificate_password',
  'token',
  'hmac_secret',
  'client_state',
  'password',
  'connection_string',
  'oauth_token',
  'proxy_url',
]);

function secretsOf(value: unknown, into: Set<string> = new Set()): Set<string> {
  if (Array.isArray(value)) for (const v of value) secretsOf(v, into);
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) {
      if (SECRET_KEYS.has(k) && typeof v === 'string' && v.length >= 4) into.add(v);
      else secretsOf(v, into);
    }
  return into;
}

/** Runs the checks; the lines in order (Redis, sources, sinks). Exported for tests. */
export async function runDoctor(config: Readonly<Config>, log: Logger, opts: DoctorOptions): Promise<DoctorLine[]> {
  const { timeoutMs } = opts;
  // `--source mssp` takes every tenant of a source with `tenants` (each runs as `mssp/{tenant}`).
  const sources = config.sources.filter(
    (s) =>
      !opts.source || s.name === opts.source || (s.type === 'graph_security' && s.tenant_of?.source === opts.source),
  );
  const sinks = config.sinks.filter((s) => !opts.sink || s.name === opts.sink);
  if (opts.source && !sources.length)
    throw new CliExit(
      EXIT.usage,
      `--source: no source named "${opts.source}" (${config.sources.map((s) => s.name).join(', ')})`,
    );
  if (opts.sink && !sinks.length)
    throw new CliExit(
      EXIT.usage,
      `--sink: no sink named "${opts.sink}" (${config.sinks.map((s) => s.name).join(', ')})`,
    );
  // --source alone checks that source (and Redis, which holds its budget); --sink alone that sink.
  const checkSources = !opts.sink || !!opts.source;
  const checkSinks = !opts.source || !!opts.sink;

  const lines: DoctorLine[] = [];
  const add = (component: string, results: ProbeResult[]) => lines.push(...results.map((r) => ({ component, ...r })));
  /** A check that throws or outlives its bound is a ✗, never a hang or a crash of the doctor. */
  const guarded = (what: string, work: () => Promise<ProbeResult[]>, bound: number): Promise<ProbeResult[]> =>
    withTimeout(work(), bound, what).catch((err: unknown) => [
      {
        check: what,
        status: 'fail',
        detail: (err as Error).message,
        fix: 'see the detail; run with a larger --timeout if the peer is only slow',
      },
    ]);

  const redis = connect(
    { ...config.redis, connect_timeout_ms: Math.min(timeoutMs, config.redis.connect_timeout_ms ?? timeoutMs) },
    { name: 'alertbridge-doctor' },
  );
  let connectionError: Error | undefined;
  redis.on('error', (err: Error) => (connectionError = err)); // each check says what failed
  try {
    add(
      'redis',
      await guarded(
        'redis',
        () => redisChecks(redis, timeoutMs, (err) => describeRedisFailure(config.redis, err, connectionError).message),
        timeoutMs * 4,
      ),
    );
    if (checkSources)
      for (const s of sources) {
        const component = `source ${s.name}`;
        if (s.type === 'graph_security') {
          // token + a read per resource + budget; each call bounded on its own.
          const bound = timeoutMs * (s.resources.length + 3);
          add(
            component,
            await guarded(
              'checks',
              () => graphSourceChecks(s, { redis, prefix: config.redis.key_prefix, timeoutMs, logger: log }),
              bound,
            ),
          );
        } else if (s.type === 'webhook') add(component, pushSecretChecks(s));
        else add(component, await guarded('checks', () => streamingChecks(s, config, timeoutMs), timeoutMs * 3));
      }
    if (checkSinks)
      for (const k of sinks) {
        const samples = sinkSamples(config, k);
        add(
          `sink ${k.name}`,
          await guarded(
            'checks',
            () => probeSink(k, log, { timeoutMs, samples }),
            timeoutMs * (samples.length * 2 + 3),
          ),
        );
      }
  } finally {
    redis.disconnect();
  }
  const secrets = [...secretsOf(config)].sort((a, b) => b.length - a.length);
  const mask = (s: string | undefined) =>
    s === undefined ? s : secrets.reduce((t, secret) => t.replaceAll(secret, '***'), s);
  return lines.map((l) => ({ ...l, detail: mask(l.detail)!, ...(l.fix !== undefined ? { fix: mask(l.fix) } : {}) }));
}

/**
 * What the configuration says of the records that can reach a sink (its filter's `sources` and `resources`): one
 * sample per Graph source and resource, to fill templated destination names in.
 */
function sinkSamples(config: Readonly<Config>, sink: Config['sinks'][number]): ProbeSample[] {
  const f = sink.filter;
  return config.sources.flatMap((s) =>
    s.type !== 'graph_security' || (f?.sources && !f.sources.includes(s.name))
      ? []
      : s.resources
          .filter((r) => !f?.resources || (f.resources as readonly string[]).includes(r))
          .map((resource) => ({ source: s.name, tenant_id: s.tenant_id, resource })),
  );
}

export function renderTable(lines: readonly DoctorLine[]): string {
  const w1 = Math.max(...lines.map((l) => l.component.length), 9);
  const w2 = Math.max(...lines.map((l) => l.check.length), 5);
  const failed = lines.filter((l) => l.status === 'fail').length;
  const rows = lines.map((l) => {
    const head = `${MARK[l.status]}  ${l.component.padEnd(w1)}  ${l.check.padEnd(w2)}  `;
    const fix = l.fix && l.status !== 'pass' ? `\n${' '.repeat(head.length)}fix: ${l.fix}` : '';
    return `${head}${l.detail}${fix}`;
  });
  const summary = failed
    ? `${failed} of ${lines.length} checks failed (✗); fix them and run alertbridge doctor again`
    : `all ${lines.length} checks passed${lines.some((l) => l.status === 'warn') ? ' (read the ! lines)' : ''}`;
  return `${rows.join('\n')}\n\n${summary}\n`;
}

export async function doctorCommand(config: Readonly<Config>, log: Logger, opts: DoctorOptions): Promise<void> {
  const lines = await runDoctor(config, log, opts);
  const out = opts.out ?? ((text: string) => process.stdout.write(text));
  const ok = !lines.some((l) => l.status === 'fail');
  out(opts.json ? JSON.stringify({ ok, checks: lines }, null, 2) + '\n' : renderTable(lines));
  const failed = lines.filter((l) => l.status === 'fail').length;
  if (!ok) throw new CliExit(EXIT.usage, `alertbridge doctor: ${failed} check(s) failed`);
}
