/**
 * `alertbridge doctor` for a `file` sink: can this process append to `path`? The file itself when it exists, else
 * the nearest existing folder above it (the sink creates missing folders). Nothing is written.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ProbeResult, SinkProbe } from '../kit.js';
import type { FileSinkConfig } from './config.js';

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export const probe: SinkProbe<FileSinkConfig> = async ({ config }): Promise<ProbeResult[]> => {
  if (config.path === '-') return [{ check: 'writable', status: 'pass', detail: 'standard output' }];
  const path = config.path;
  let target = path;
  if (await exists(path)) {
    if ((await stat(path)).isDirectory())
      return [
        {
          check: 'writable',
          status: 'fail',
          detail: `${path} is a folder`,
          fix: `set path to a file inside it, e.g. ${path.replace(/\/+$/, '')}/alerts.ndjson`,
        },
      ];
  } else {
    target = dirname(path);
    while (!(await exists(target)) && dirname(target) !== target) target = dirname(target);
  }
  try {
    await access(target, constants.W_OK);
    return [
      {
        check: 'writable',
        status: 'pass',
        detail: target === path ? `${path} can be appended to` : `${path} can be created (in ${target})`,
      },
    ];
  } catch (err) {
    return [
      {
        check: 'writable',
        status: 'fail',
        detail: `${target} is not writable by this user (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
        fix: `give the user alertbridge runs as write access to ${target} (chown/chmod, or a writable volume in Kubernetes), or set path elsewhere`,
      },
    ];
  }
};
