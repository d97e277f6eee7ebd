/**
 * A throwaway CA and server certificate for the simulator's HTTPS, made at start-up. Clients then trust the CA
 * exactly as they would a corporate TLS-inspecting proxy's (`ca_file`), instead of disabling verification.
 *
 * Keys come from node:crypto (native; pure JS generation in node-forge takes seconds) and node-forge signs the
 * certificates. RSA 2048 generation still costs 0.2-0.5 s per key on a small machine, so the two key pairs are made
 * once per process and reused: every simulator gets a new CA identity (subject serial, certificates), and a test file
 * starting several simulators pays for the keys once.
 */
import { generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';

const generateRsa = promisify(generateKeyPair);

/** PEM material for `https.createServer` and for clients to trust. */
export interface SimulatorTls {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** Names every certificate carries: the loopback forms a local client may use. */
const LOOPBACK = ['127.0.0.1', 'localhost', '::1'];

interface PemPair {
  publicKey: string;
  privateKey: string;
}

let keyPairs: Promise<[PemPair, PemPair]> | undefined;

/** Creates a CA (valid 2 days back to 1 year ahead) and a server certificate for the loopback names plus `extra`. */
export async function createSimulatorTls(extra: string[] = []): Promise<SimulatorTls> {
  keyPairs ??= Promise.all([rsaPair(), rsaPair()]);
  const [ca, server] = await keyPairs;
  const caKey = forge.pki.privateKeyFromPem(ca.privateKey);
  const caCert = forge.pki.createCertificate();
  const caSubject = [
    { name: 'commonName', value: `alertbridge Graph simulator CA ${randomBytes(4).toString('hex')}` },
    { name: 'organizationName', value: 'alertbridge' },
  ];
  fillValidity(caCert, forge.pki.publicKeyFromPem(ca.publicKey));
  caCert.setSubject(caSubject);
  caCert.setIssuer(caSubject);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  caCert.sign(caKey, forge.md.sha256.create());

  const cert = forge.pki.createCertificate();
  fillValidity(cert, forge.pki.publicKeyFromPem(server.publicKey));
  cert.setSubject([{ name: 'commonName', value: 'localhost' }]);
  cert.setIssuer(caSubject);
  const names = [...new Set([...LOOPBACK, ...extra])];
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: names.map(altName) },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return {
    caPem: forge.pki.certificateToPem(caCert),
    certPem: forge.pki.certificateToPem(cert),
    keyPem: server.privateKey,
  };
}

async function rsaPair(): Promise<PemPair> {
  return generateRsa('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
}

function fillValidity(cert: forge.pki.Certificate, publicKey: forge.pki.PublicKey): void {
  cert.publicKey = publicKey;
  // A positive serial: the high bit cleared so DER does not read it as negative.
  cert.serialNumber = '01' + randomBytes(15).toString('hex');
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 2 * 86_400_000);
  cert.validity.notAfter = new Date(now + 365 * 86_400_000);
}

function altName(name: string): { type: number; value?: string; ip?: string } {
  // 2: dNSName, 7: iPAddress (forge encodes both IPv4 and IPv6 from the `ip` text).
  return /^[\d.]+$/.test(name) || name.includes(':') ? { type: 7, ip: name } : { type: 2, value: name };
}
