/**
 * A real Apache Kafka broker for tests and benches: Kafka 3.9.1 in KRaft mode (one JVM is both broker and
 * controller), fetched from Maven Central once and started from its jars. No Docker, no mocks: the sink is tested
 * against the same broker code its users run.
 *
 * - Jars: `mvn dependency:copy-dependencies` of ./pom.xml into `<repo>/.cache/kafka-jars` (git-ignored), once; the
 *   folder is reused while the pom is unchanged (its hash is stored beside the jars). Maven's own ~/.m2 stays too.
 * - Listeners: PLAINTEXT (anonymous, a super user) for producing, consuming and admin; SASL_PLAINTEXT with PLAIN,
 *   SCRAM-SHA-256/512 and OAUTHBEARER (Kafka's unsecured JWT validator); SSL with client certificates required
 *   (a throwaway CA made with `openssl`). So TLS, authentication and authorization are tested for real. The
 *   StandardAuthorizer denies everyone but anonymous, `alice` and the test client certificate unless an ACL allows.
 * - `kill()` is `kill -9` of the JVM; `restart()` starts it again on the same data dir and ports.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { freePort } from '../../../src/util/redis-server.js';

export const KAFKA_VERSION = '3.9.1';

/** SASL users known to the broker. `alice` is a super user; `bob` may do only what a test grants with an ACL. */
export const KAFKA_USERS = {
  alice: { username: 'alice', password: 'alice-secret' },
  bob: { username: 'bob', password: 'bob-secret' },
} as const;

/** PEM files of the SSL listener's throwaway CA and of a client certificate it accepts. */
export interface KafkaTlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

export interface KafkaBroker {
  /** PLAINTEXT bootstrap address(es), `127.0.0.1:port`. */
  brokers: string[];
  /** SASL_PLAINTEXT bootstrap address(es) (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER). */
  saslBrokers: string[];
  /** SSL bootstrap address(es); the broker requires a client certificate signed by `tls.caFile`. */
  tlsBrokers: string[];
  tls: KafkaTlsFiles;
  /** Folder of the broker's config, data (`data/`) and log (`server.log`). */
  dir: string;
  /** Graceful shutdown, then the data dir is deleted. Idempotent. */
  stop(): Promise<void>;
  /** `kill -9` of the JVM: no shutdown hooks, no flush beyond what the OS already has. Data dir kept. */
  kill(): Promise<void>;
  /** Starts the broker again (after kill, or stopping it first if it runs) on the same data dir and ports. */
  restart(): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../..');
const pomPath = join(here, 'pom.xml');
export const JAR_CACHE = join(repoRoot, '.cache', 'kafka-jars');

const log = (msg: string): void => console.log(`[kafka peer] ${msg}`);

/**
 * Fetches the broker's jars into the cache unless they are there for this pom. Downloads go to a private folder
 * that is renamed into place when complete, so an interrupted or concurrent first run never leaves half a cache.
 */
export function ensureKafkaJars(): string {
  const pomHash = createHash('sha256').update(readFileSync(pomPath)).digest('hex');
  const stamp = join(JAR_CACHE, '.pom-sha256');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === pomHash) return JAR_CACHE;
  for (const [tool, hint] of [
    ['java', 'a Java 17+ runtime'],
    ['mvn', 'Apache Maven'],
  ] as const) {
    if (spawnSync(tool, ['-version'], { stdio: 'ignore' }).error) {
      throw new Error(
        `the Kafka test broker needs ${hint} on PATH ('${tool}' not found); e.g. apt-get install -y openjdk-17-jre-headless maven`,
      );
    }
  }
  const tmp = `${JAR_CACHE}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`;
  log(
    `fetching Apache Kafka ${KAFKA_VERSION} and its jars from Maven Central into ${JAR_CACHE} (once, ~50 MB; cached for later runs)…`,
  );
  const started = Date.now();
  const res = spawnSync(
    'mvn',
    ['-q', '-B', '-f', pomPath, 'dependency:copy-dependencies', `-DoutputDirectory=${tmp}`],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 15 * 60_000,
    },
  );
  if (res.status !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    const out = `${res.stdout ?? ''}${res.stderr ?? ''}`.trim().split('\n').slice(-20).join('\n');
    throw new Error(`mvn dependency:copy-dependencies failed (${res.error?.message ?? `exit ${res.status}`}):\n${out}`);
  }
  writeFileSync(join(tmp, '.pom-sha256'), pomHash);
  rmSync(JAR_CACHE, { recursive: true, force: true });
  try {
    renameSync(tmp, JAR_CACHE);
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // another process won the race with the same jars
  }
  log(
    `${readdirSync(JAR_CACHE).filter((f) => f.endsWith('.jar')).length} jars fetched in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return JAR_CACHE;
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate (CN=alertbridge-client), made with openssl. */
function makeCertificates(dir: string): KafkaTlsFiles & { keystore: string } {
  const f = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => {
    const res = spawnSync('openssl', args, { encoding: 'utf8' });
    if (res.status !== 0) throw new Error(`openssl ${args[0]} failed: ${res.error?.message ?? res.stderr}`);
  };
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.pem'),
    '-days',
    '30',
    '-subj',
    '/CN=alertbridge-test-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  for (const [name, cn, ext] of [
    ['server', 'localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth'],
    ['client', 'alertbridge-client', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    writeFileSync(f(`${name}.ext`), `${ext}\n`);
    openssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      f(`${name}.key`),
      '-out',
      f(`${name}.csr`),
      '-subj',
      `/CN=${cn}`,
    );
    openssl(
      'x509',
      '-req',
      '-in',
      f(`${name}.csr`),
      '-CA',
      f('ca.pem'),
      '-CAkey',
      f('ca.key'),
      '-set_serial',
      `0x${randomBytes(8).toString('hex')}`,
      '-days',
      '30',
      '-out',
      f(`${name}.pem`),
      '-extfile',
      f(`${name}.ext`),
    );
  }
  // Kafka's PEM key store: the private key (PKCS#8, unencrypted) followed by the certificate chain.
  writeFileSync(
    f('server-keystore.pem'),
    ['server.key', 'server.pem', 'ca.pem'].map((n) => readFileSync(f(n), 'utf8')).join(''),
  );
  return {
    caFile: f('ca.pem'),
    certFile: f('client.pem'),
    keyFile: f('client.key'),
    keystore: f('server-keystore.pem'),
  };
}

function serverProperties(o: {
  dir: string;
  port: number;
  saslPort: number;
  sslPort: number;
  ctrlPort: number;
  tls: KafkaTlsFiles & { keystore: string };
  autoCreateTopics: boolean;
}): string {
  const jaas = (module: string, extra = '') => `${module} required${extra};`;
  const plainUsers = Object.values(KAFKA_USERS)
    .map((u) => ` user_${u.username}="${u.password}"`)
    .join('');
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${o.ctrlPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${o.port},SASL_PLAINTEXT://127.0.0.1:${o.saslPort},SSL://127.0.0.1:${o.sslPort},CONTROLLER://127.0.0.1:${o.ctrlPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${o.port},SASL_PLAINTEXT://127.0.0.1:${o.saslPort},SSL://127.0.0.1:${o.sslPort}`,
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,CONTROLLER:PLAINTEXT',
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER',
    `listener.name.sasl_plaintext.plain.sasl.jaas.config=${jaas('org.apache.kafka.common.security.plain.PlainLoginModule', plainUsers)}`,
    `listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=${jaas('org.apache.kafka.common.security.scram.ScramLoginModule')}`,
    `listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=${jaas('org.apache.kafka.common.security.scram.ScramLoginModule')}`,
    `listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config=${jaas('org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule')}`,
    'listener.name.ssl.ssl.keystore.type=PEM',
    `listener.name.ssl.ssl.keystore.location=${o.tls.keystore}`,
    'listener.name.ssl.ssl.truststore.type=PEM',
    `listener.name.ssl.ssl.truststore.location=${o.tls.caFile}`,
    'listener.name.ssl.ssl.client.auth=required',
    'authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    'super.users=User:ANONYMOUS;User:alice;User:CN=alertbridge-client',
    `log.dirs=${join(o.dir, 'data')}`,
    'num.partitions=3',
    'default.replication.factor=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    // A broker that was killed is still registered: the controller fences its old session only after this long,
    // and the restarted broker waits for that. Short, so a kill -9 + restart takes seconds, not 15 s.
    'broker.session.timeout.ms=2000',
    'broker.heartbeat.interval.ms=500',
    `auto.create.topics.enable=${o.autoCreateTopics}`,
    'log.segment.bytes=16777216',
    'log.retention.check.interval.ms=300000',
    'metadata.log.segment.bytes=8388608',
    'num.network.threads=2',
    'num.io.threads=4',
    'background.threads=2',
    '',
  ].join('\n');
}

function log4jProperties(dir: string): string {
  return [
    'log4j.rootLogger=WARN, file',
    'log4j.appender.file=org.apache.log4j.FileAppender',
    `log4j.appender.file.File=${join(dir, 'server.log')}`,
    'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
    'log4j.logger.kafka.server.KafkaRaftServer=INFO',
    '',
  ].join('\n');
}

/** An unsecured JWT (`alg: none`), which the broker's default OAUTHBEARER validator accepts: for tests only. */
export function unsecuredJwt(subject: string, lifetimeMs = 3_600_000): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Date.now() / 1000;
  return `${b64({ alg: 'none' })}.${b64({ sub: subject, iat: Math.floor(now), exp: Math.floor(now + lifetimeMs / 1000) })}.`;
}

export interface KafkaBrokerOptions {
  /** `auto.create.topics.enable`: off, producing to a missing topic fails with UNKNOWN_TOPIC_OR_PARTITION. @defaultValue true */
  autoCreateTopics?: boolean;
}

export async function startKafkaBroker(opts: KafkaBrokerOptions = {}): Promise<KafkaBroker> {
  const jars = ensureKafkaJars();
  const [port, saslPort, sslPort, ctrlPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'alertbridge-kafka-'));
  const props = join(dir, 'server.properties');
  const tls = makeCertificates(dir);
  writeFileSync(
    props,
    serverProperties({ dir, port, saslPort, sslPort, ctrlPort, tls, autoCreateTopics: opts.autoCreateTopics ?? true }),
  );
  writeFileSync(join(dir, 'log4j.properties'), log4jProperties(dir));
  const classpath = `${jars}/*`;
  const jvmLog = [`-Dlog4j.configuration=file:${join(dir, 'log4j.properties')}`, `-Dkafka.logs.dir=${dir}`];

  const clusterId = randomBytes(16).toString('base64url');
  const scram = Object.values(KAFKA_USERS).flatMap((u) =>
    ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((m) => [
      '--add-scram',
      `${m}=[name=${u.username},password=${u.password}]`,
    ]),
  );
  const format = spawnSync(
    'java',
    [...jvmLog, '-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props, ...scram],
    { encoding: 'utf8' },
  );
  if (format.status !== 0) throw new Error(`kafka-storage format failed: ${format.stdout}${format.stderr}`);

  let child: ChildProcess | undefined;
  let disposed = false;
  const onExit = () => child?.kill('SIGKILL');
  process.once('exit', onExit);

  const exited = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null;
  const serverLogTail = () => {
    try {
      return readFileSync(join(dir, 'server.log'), 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '(no server.log)';
    }
  };

  const launch = async (): Promise<void> => {
    const t0 = Date.now();
    let output = '';
    const c = spawn(
      'java',
      [
        '-Xmx512m',
        '-Xms256m',
        '-XX:+UseG1GC',
        '-Djava.awt.headless=true',
        ...jvmLog,
        '-cp',
        classpath,
        'kafka.Kafka',
        props,
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child = c;
    const keep = (d: Buffer) => {
      output = (output + d.toString()).slice(-4000);
    };
    c.stdout?.on('data', keep);
    c.stderr?.on('data', keep);
    const admin = new Kafka({
      clientId: 'kafka-peer-probe',
      brokers: [`127.0.0.1:${port}`],
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
    }).admin();
    try {
      for (const deadline = Date.now() + 90_000; ;) {
        if (exited(c))
          throw new Error(
            `the Kafka broker exited (${c.exitCode ?? c.signalCode}) while starting:\n${output}\n${serverLogTail()}`,
          );
        if (Date.now() > deadline)
          throw new Error(`the Kafka broker did not become ready in 90 s:\n${serverLogTail()}`);
        try {
          await admin.connect();
          const cluster = await admin.describeCluster();
          if (cluster.brokers.length > 0 && cluster.controller !== null && cluster.controller >= 0) break;
        } catch {
          // not listening yet
        }
        await admin.disconnect().catch(() => undefined);
        await sleep(250);
      }
    } catch (err) {
      c.kill('SIGKILL');
      throw err;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    log(`broker ready on 127.0.0.1:${port} (SASL ${saslPort}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  };

  const waitExit = async (c: ChildProcess, ms: number): Promise<boolean> => {
    if (exited(c)) return true;
    await Promise.race([new Promise((r) => c.once('exit', r)), sleep(ms, undefined, { ref: false })]);
    return exited(c);
  };

  const kill = async (): Promise<void> => {
    const c = child;
    if (!c || exited(c)) return;
    c.kill('SIGKILL');
    await waitExit(c, 10_000);
  };

  const shutdown = async (): Promise<void> => {
    const c = child;
    if (!c || exited(c)) return;
    c.kill('SIGTERM');
    if (!(await waitExit(c, 20_000))) await kill();
  };

  await launch().catch((err) => {
    rmSync(dir, { recursive: true, force: true });
    process.removeListener('exit', onExit);
    throw err;
  });

  return {
    brokers: [`127.0.0.1:${port}`],
    saslBrokers: [`127.0.0.1:${saslPort}`],
    tlsBrokers: [`127.0.0.1:${sslPort}`],
    tls: { caFile: tls.caFile, certFile: tls.certFile, keyFile: tls.keyFile },
    dir,
    kill,
    async restart() {
      if (disposed) throw new Error('the Kafka broker was stopped for good');
      await shutdown();
      await launch();
    },
    async stop() {
      if (disposed) return;
      disposed = true;
      await shutdown();
      process.removeListener('exit', onExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
