/**
 * The HTTP server alone in a child process, for test/server/body-limit.test.ts: the client there must be able to
 * fall behind the server (a busy event loop), which one process cannot show. Sends its port over IPC.
 */
import pino from 'pino';
import { Metrics } from '../../src/observability/metrics.js';
import { buildServer } from '../../src/server/server.js';

const limit = Number(process.argv[2] ?? 4096);
const app = buildServer({
  maxBodyBytes: limit,
  requestTimeoutMs: 5000,
  metrics: new Metrics({ defaultMetrics: false }),
  logger: pino({ level: 'silent' }),
  readiness: async () => ({ ok: true }),
});
app.post('/echo', async (req) => ({ bytes: (req.body as Buffer).length }));
await app.listen({ host: '127.0.0.1', port: 0 });
process.send!((app.server.address() as { port: number }).port);
process.on('disconnect', () => void app.close().then(() => process.exit(0)));
