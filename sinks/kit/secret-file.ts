/**
 * Secret files (`token_file`, `password_file`, `connection_string_file`, …) are read again whenever the peer refuses
 * a credential, so a rotated Kubernetes Secret is picked up without a restart (peers-lessons #7). One way for every
 * sink: the file's content without its trailing line break; undefined when it is empty or cannot be read right now
 * (a Secret being swapped), after telling `onError` why.
 */
import { readFileSync } from 'node:fs';

export function readSecretFile(path: string | undefined, onError?: (err: Error) => void): string | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8').replace(/[\r\n]+$/, '') || undefined;
  } catch (err) {
    onError?.(err as Error);
    return undefined;
  }
}
