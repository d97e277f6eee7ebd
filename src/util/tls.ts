/** TLS trust shared by every client: an extra CA adds to Node's bundled roots, it never replaces them. */
import { rootCertificates } from 'node:tls';

/**
 * Node's `ca` option replaces its bundled roots, while alertbridge's `ca_file` settings are documented as extra
 * trust: the roots are passed along with the given PEM texts.
 */
export function withSystemRoots(...pems: string[]): string[] {
  return [...rootCertificates, ...pems];
}
