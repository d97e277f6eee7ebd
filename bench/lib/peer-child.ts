/**
 * The project's HEC and Event Hubs peers (test/peers/) in a process of their own, for benches and chaos runs: the
 * peer's parsing then runs on the other core instead of competing with the pipeline under test, and its memory stays
 * flat (what arrived is folded into counts of `key@revision` as it comes). Forked with tsx's loader; the options
 * come as JSON in argv; it answers IPC requests `{id, cmd, arg}` with `{id, result}` or `{id, error}`:
 *   stats [reset] → PeerStats · faults {…} → sets peer faults · drop → cuts every connection (Event Hubs) · close
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { EventHubsPeerFaults, EventHubsPeerOptions } from '../../test/peers/eventhubs/server.js';
import type { HecFaults, HecPeerOptions } from '../../test/peers/hec/server.js';
import { ROOT } from './paths.js';

export type PeerKind = 'hec' | 'eventhubs';

export interface PeerStats {
  /** Events (records) the peer accepted, duplicates included. */
  events: number;
  /** Distinct `key@revision` among them. */
  distinct: number;
  /** Requests (HEC) or deliveries (Event Hubs) answered, and how many of them were refused as busy. */
  requests: number;
  busy: number;
}

export interface ChildPeer {
  kind: PeerKind;
  pid: number | undefined;
  /** HEC: base URL. Event Hubs: the connection string (with EntityPath). */
  address: string;
  stats(reset?: boolean): Promise<PeerStats>;
  /** The identities seen (for a loss check against what was sent). */
  seen(): Promise<string[]>;
  setFaults(faults: Partial<HecFaults> | Partial<EventHubsPeerFaults>): Promise<void>;
  /** Event Hubs: drop every connection (a network cut). */
  drop(): Promise<void>;
  close(): Promise<void>;
}

type Reply = { id: number; result?: unknown; error?: string };

export async function forkPeer(kind: 'hec', opts?: HecPeerOptions): Promise<ChildPeer>;
export async function forkPeer(kind: 'eventhubs', opts?: EventHubsPeerOptions): Promise<ChildPeer>;
export async function forkPeer(kind: PeerKind, opts: object = {}): Promise<ChildPeer> {
  // tsx's loader explicitly: under vitest the parent's execArgv does not carry it.
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [kind, JSON.stringify(opts)], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const address = await new Promise<string>((resolve, reject) => {
    child.once('message', (m: { ready?: string }) =>
      m.ready ? resolve(m.ready) : reject(new Error('peer sent no address')),
    );
    child.once('exit', (code) => reject(new Error(`${kind} peer exited (${code}) before it listened`)));
  });
  let next = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  child.on('message', (m: Reply) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.error) p.reject(new Error(m.error));
    else p.resolve(m.result);
  });
  child.once('exit', () => {
    for (const p of pending.values()) p.reject(new Error(`${kind} peer exited`));
    pending.clear();
  });
  const call = <T>(cmd: string, arg?: unknown): Promise<T> =>
    new Promise((resolve, reject) => {
      if (child.exitCode !== null) return reject(new Error(`${kind} peer is not running`));
      const id = next++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ id, cmd, arg });
    });
  return {
    kind,
    pid: child.pid,
    address,
    stats: (reset = false) => call<PeerStats>('stats', reset),
    seen: () => call<string[]>('seen'),
    setFaults: (faults) => call<void>('faults', faults),
    drop: () => call<void>('drop'),
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.send({ id: -1, cmd: 'close' });
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** The child side: runs one peer and folds what arrives into counts. */
async function serve(kind: PeerKind, opts: Record<string, unknown>): Promise<void> {
  const counts = new Map<string, number>();
  let events = 0;
  let requests = 0;
  let busy = 0;
  const add = (id: string) => {
    events++;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  };
  let drain: () => void;
  let setFaults: (f: Record<string, unknown>) => void;
  let drop = () => {};
  let close: () => Promise<void>;
  let address: string;

  if (kind === 'hec') {
    const { startHecPeer } = await import('../../test/peers/hec/server.js');
    const peer = await startHecPeer(opts as HecPeerOptions);
    address = peer.url;
    drain = () => {
      for (const e of peer.indexed.splice(0)) {
        const r = e.event.event as { key?: string; revision?: string } | undefined;
        add(`${r?.key}@${r?.revision}`);
      }
      for (const q of peer.requests.splice(0)) {
        if (!q.path.endsWith('/event')) continue;
        requests++;
        if (q.code === 9) busy++;
      }
    };
    setFaults = (f) => peer.setFaults(f as Partial<HecFaults>);
    close = () => peer.close();
  } else {
    const { startEventHubsPeer } = await import('../../test/peers/eventhubs/server.js');
    const peer = await startEventHubsPeer({ keepBodies: false, ...(opts as EventHubsPeerOptions) });
    address = peer.connectionString(Object.keys((opts as EventHubsPeerOptions).hubs ?? { alerts: 4 })[0]!);
    let busySeen = 0;
    drain = () => {
      for (const e of peer.received.splice(0))
        add(`${String(e.properties['alertbridge-key'])}@${String(e.properties['alertbridge-revision'])}`);
      requests += peer.batches.splice(0).length;
      busy += peer.stats.busy - busySeen;
      busySeen = peer.stats.busy;
    };
    setFaults = (f) => peer.setFaults(f as Partial<EventHubsPeerFaults>);
    drop = () => peer.dropConnections();
    close = () => peer.close();
  }
  const timer = setInterval(() => drain(), 200);
  process.on('message', (m: { id: number; cmd: string; arg?: unknown }) => {
    const answer = (result?: unknown) => process.send!({ id: m.id, result });
    try {
      drain();
      switch (m.cmd) {
        case 'stats': {
          answer({ events, distinct: counts.size, requests, busy } satisfies PeerStats);
          if (m.arg === true) {
            counts.clear();
            events = requests = busy = 0;
          }
          return;
        }
        case 'seen':
          return answer([...counts.keys()]);
        case 'faults':
          setFaults(m.arg as Record<string, unknown>);
          return answer();
        case 'drop':
          drop();
          return answer();
        case 'close':
          clearInterval(timer);
          void close().finally(() => process.exit(0));
          return;
        default:
          process.send!({ id: m.id, error: `unknown command ${m.cmd}` });
      }
    } catch (err) {
      process.send!({ id: m.id, error: (err as Error).message });
    }
  });
  process.on('disconnect', () => void close().finally(() => process.exit(0)));
  process.send!({ ready: address });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  serve(process.argv[2] as PeerKind, JSON.parse(process.argv[3] ?? '{}') as Record<string, unknown>).catch(
    (err: unknown) => {
      console.error(err);
      process.exit(2);
    },
  );
}
