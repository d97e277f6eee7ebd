/**
 * `alertbridge doctor` for a `splunk_hec` sink, in two harmless calls: `GET /services/collector/health` (is HEC up
 * and taking data) and an empty `POST /services/collector/event` with the token. HEC checks the token before the
 * body, so a valid one gets code 5 "No data" and an invalid or disabled one its auth code (1–4); nothing is indexed.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { readSecretFile, redactUrlsIn, withTimeout, type ProbeResult, type SinkProbe } from '../kit.js';
import { HecClient, type HecResponse } from './client.js';
import type { SplunkHecSinkConfig } from './config.js';

const TOKEN_CODES: Record<number, string> = {
  1: 'the token is disabled',
  2: 'no token was sent',
  3: 'the Authorization header is malformed',
  4: 'HEC does not know this token',
};

const said = (r: HecResponse): string =>
  `HTTP ${r.status}${r.reply.code !== undefined ? ` code ${r.reply.code}` : ''} "${r.reply.text ?? ''}"`;

export const probe: SinkProbe<SplunkHecSinkConfig> = async ({ config, timeoutMs }): Promise<ProbeResult[]> => {
  const client = new HecClient({
    url: config.url,
    ca: config.ca_file ? await readFile(config.ca_file, 'utf8') : undefined,
    tlsVerify: config.tls_verify,
    proxyUrl: config.proxy_url,
    timeoutMs: Math.min(timeoutMs, config.request_timeout_ms),
    channel: randomUUID(),
    gzip: false,
  });
  // The token as the sink would read it now: a rotated token_file counts.
  client.token = readSecretFile(config.token_file) ?? config.token ?? '';
  const where = redactUrlsIn(config.url);
  const out: ProbeResult[] = [];
  try {
    try {
      const h = await withTimeout(client.health(), timeoutMs, `GET ${where}/services/collector/health`);
      if (h.status === 200)
        out.push({ check: 'reachable', status: 'pass', detail: `${where}: ${h.reply.text ?? 'healthy'}` });
      else if (h.status === 503)
        out.push({
          check: 'reachable',
          status: 'fail',
          detail: `${where} answers but is not taking data: ${said(h)}`,
          fix: "HEC's queues are full or the indexers are down: check the Splunk indexers' health (Monitoring Console → Indexing)",
        });
      else if (h.status === 404)
        out.push({
          check: 'reachable',
          status: 'fail',
          detail: `${where} has no /services/collector/health (${said(h)})`,
          fix: 'url must be the HEC base URL, e.g. https://splunk.example.com:8088 (without /services/collector); check HEC is enabled (Settings → Data inputs → HTTP Event Collector → Global Settings)',
        });
      // 400 here is Splunk's "invalid token": the next check says what the token lacks.
      else out.push({ check: 'reachable', status: 'pass', detail: `${where} answers (health: ${said(h)})` });
    } catch (err) {
      out.push({
        check: 'reachable',
        status: 'fail',
        detail: `${where}: ${redactUrlsIn((err as Error).message)}`,
        fix: 'check url (host, port 8088, http vs https), the network path and proxy_url; with a private CA set ca_file',
      });
      return out;
    }
    const r = await withTimeout(client.postEvents(''), timeoutMs, `POST ${where}/services/collector/event`).catch(
      (err: unknown) => err as Error,
    );
    if (r instanceof Error) {
      out.push({
        check: 'token',
        status: 'fail',
        detail: redactUrlsIn(r.message),
        fix: 'check the network path to url',
      });
    } else if ((r.status === 401 || r.status === 403) && TOKEN_CODES[r.reply.code ?? -1]) {
      out.push({
        check: 'token',
        status: 'fail',
        detail: `HEC refuses the token: ${TOKEN_CODES[r.reply.code!]} (${said(r)})`,
        fix: `set token${config.token_file ? ` (token_file ${config.token_file})` : ''} to an enabled HEC token: Splunk → Settings → Data inputs → HTTP Event Collector`,
      });
    } else if (r.status === 400 || r.status === 200) {
      // 5 No data: the token was accepted. 10/11: acks on the token and a channel problem — also past the token.
      out.push({ check: 'token', status: 'pass', detail: `HEC accepts the token (${said(r)}; nothing was indexed)` });
    } else {
      out.push({
        check: 'token',
        status: 'fail',
        detail: `unexpected answer to an empty event request: ${said(r)}`,
        fix: 'check that url points at HEC itself, not at a proxy or login page in front of it',
      });
    }
    return out;
  } finally {
    client.close();
  }
};
