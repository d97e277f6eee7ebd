/**
 * The Event Hubs peer in a process of its own, for benches: its AMQP decoding then runs on the other core instead
 * of competing with the sink under test. Started with `fork()` (which inherits tsx's loader); the options come as
 * JSON in argv[2]; it answers IPC messages:
 *   → { ready: { connectionString, port } } once listening
 *   'summary' → { summary: PeerSummary }, then forgets what it holds;  'close' → exits.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startEventHubsPeer, type EventHubsPeerOptions } from './server.js';

export interface PeerSummary {
  events: number;
  /** Distinct `alertbridge-key@alertbridge-revision` among them. */
  distinct: number;
  /** Events whose partition key is not their `alertbridge-key` property, or that lack the five properties. */
  malformed: number;
  batches: number;
  maxBatchBytes: number;
  busy: number;
  /** CPU time the peer process used since the previous summary. */
  cpuMs: number;
}

export interface ForkedPeer {
  connectionString: string;
  summary(): Promise<PeerSummary>;
  close(): Promise<void>;
}

const PROPS = [
  'alertbridge-key',
  'alertbridge-provider',
  'alertbridge-resource',
  'alertbridge-revision',
  'alertbridge-tenant',
];

/** Forks this file as a peer process and waits until it listens. */
export async function forkEventHubsPeer(opts: EventHubsPeerOptions = {}): Promise<ForkedPeer> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [JSON.stringify(opts)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = <T>(key: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const onMessage = (m: Record<string, unknown>) => {
        if (!(key in m)) return;
        child.off('exit', onExit);
        child.off('message', onMessage);
        resolve(m[key] as T);
      };
      const onExit = (code: number | null) =>
        reject(new Error(`event hubs peer exited (${code}) before answering '${key}'`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  const { connectionString } = await next<{ connectionString: string }>('ready');
  return {
    connectionString,
    summary() {
      child.send('summary');
      return next<PeerSummary>('summary');
    },
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.send('close');
      await exited;
    },
  };
}

async function serve(opts: EventHubsPeerOptions): Promise<void> {
  const peer = await startEventHubsPeer({ keepBodies: false, ...opts });
  let cpu = process.cpuUsage();
  process.on('message', (m) => {
    if (m === 'close') {
      void peer.close().then(() => process.exit(0));
      return;
    }
    if (m !== 'summary') return;
    const malformed = peer.received.filter(
      (e) =>
        e.partitionKey !== e.properties['alertbridge-key'] || Object.keys(e.properties).sort().join() !== PROPS.join(),
    ).length;
    const distinct = new Set(
      peer.received.map(
        (e) => `${String(e.properties['alertbridge-key'])}@${String(e.properties['alertbridge-revision'])}`,
      ),
    ).size;
    const used = process.cpuUsage(cpu);
    cpu = process.cpuUsage();
    const summary: PeerSummary = {
      events: peer.received.length,
      distinct,
      malformed,
      batches: peer.batches.length,
      maxBatchBytes: peer.batches.reduce((a, b) => Math.max(a, b.bytes), 0),
      busy: peer.stats.busy,
      cpuMs: (used.user + used.system) / 1000,
    };
    peer.reset();
    process.send!({ summary });
  });
  process.on('disconnect', () => void peer.close().then(() => process.exit(0)));
  process.send!({ ready: { connectionString: peer.connectionString(), port: peer.port } });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  serve(JSON.parse(process.argv[2] ?? '{}') as EventHubsPeerOptions).catch((err: unknown) => {
    console.error(err);
    process.exit(2);
  });
}
