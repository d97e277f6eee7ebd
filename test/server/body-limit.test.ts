import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, fetch } from 'undici';

// Over a real socket (inject() cannot show this): a client still sending an oversized body must read the 413 and
// its reason, not a reset connection (EPIPE / ECONNRESET, seen in about one of eight such requests from a busy
// client before the server drained the body), and a keep-alive client can go on using the connection afterwards.
const LIMIT = 4096;
let server: ChildProcess;
let base: string;

beforeAll(async () => {
  server = fork(fileURLToPath(new URL('./body-limit-server.ts', import.meta.url)), [String(LIMIT)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('message', (m) => resolve(m as number));
    server.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  base = `http://127.0.0.1:${port}`;
});
afterAll(() => {
  server.disconnect();
});

const busy = (ms: number) => {
  const t = Date.now();
  while (Date.now() - t < ms);
};

describe('body limit over a real socket', () => {
  it('answers 413 with its reason to every oversized body, declared or chunked, even to a busy client, and keeps serving', async () => {
    const agent = new Agent({ keepAliveTimeout: 10_000 });
    const big = 'x'.repeat(1_700_000);
    const answers: string[] = [];
    const n = 120;
    for (let i = 0; i < n; i++) {
      // a declared Content-Length, or a chunked body of unknown length
      const body = i % 3 === 2 ? new Blob([big]).stream() : big;
      const pending = fetch(`${base}/echo`, {
        method: 'POST',
        body,
        duplex: 'half',
        headers: { 'content-type': 'application/json' },
        dispatcher: agent,
      }).then(
        async (r) => `${r.status} ${await r.text()}`,
        (err: Error) => `failed: ${(err.cause as Error | undefined)?.message ?? err.message}`,
      );
      // A client that falls behind the server: the server's answer arrives while the body is still being written.
      busy((i % 7) * 3);
      answers.push(await pending);
      if (i % 10 === 9) {
        const small = await fetch(`${base}/echo`, {
          method: 'POST',
          body: '{}',
          headers: { 'content-type': 'application/json' },
          dispatcher: agent,
        });
        answers.push(`${small.status} ${await small.text()}`);
      }
    }
    await agent.close();
    const expected = Array.from({ length: n }, (_, i) => [
      `413 {"error":"request body is larger than ${LIMIT} bytes"}`,
      ...(i % 10 === 9 ? ['200 {"bytes":2}'] : []),
    ]).flat();
    expect(answers).toEqual(expected);
  });
});
