/**
 * `file` sink: NDJSON, one formatted record per line, appended to `path` (`-` = stdout). For demos, debugging and
 * hand-offs to a log shipper. A batch is one write; it counts as delivered once the OS has it.
 */
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Lifecycle, PermanentError, RetryableError, type Sink, type SinkFactory } from '../kit.js';
import type { FileSinkConfig } from './config.js';

/** Errors that a person must fix (a path that is a folder, missing, or not writable): retrying will not help. */
const PERMANENT_CODES = new Set(['EACCES', 'EPERM', 'EISDIR', 'ENOENT', 'ENOTDIR', 'EROFS', 'ENAMETOOLONG']);

/** Opens for appending, creating missing parent folders (`path: ./out/alerts.ndjson` just works). */
async function openForAppend(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'a');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await mkdir(dirname(path), { recursive: true });
    return open(path, 'a');
  }
}

export const createFileSink: SinkFactory<FileSinkConfig> = ({ config, encode }) => {
  let handle: FileHandle | undefined;
  const life = new Lifecycle(`file sink '${config.name}'`);
  const target = config.path === '-' ? 'stdout' : config.path;

  const classify = (err: unknown): Error => {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const message = `writing batch to file '${config.name}' (${target}): ${(err as Error).message}`;
    return PERMANENT_CODES.has(code)
      ? new PermanentError(message, { cause: err })
      : new RetryableError(message, { cause: err });
  };

  const writeStdout = (text: string): Promise<void> =>
    new Promise((resolve, reject) => process.stdout.write(text, (err) => (err ? reject(err) : resolve())));

  const write = async (lines: string): Promise<void> => {
    try {
      if (config.path === '-') return await writeStdout(lines);
      handle ??= await openForAppend(config.path);
      await handle.appendFile(lines, 'utf8');
    } catch (err) {
      await handle?.close().catch(() => undefined);
      handle = undefined;
      throw classify(err);
    }
  };

  const sink: Sink = {
    name: config.name,
    type: 'file',
    async start() {},
    send: (records) => life.track(() => write(records.map(encode).join('\n') + '\n')),
    close: () =>
      life.close(async () => {
        const h = handle;
        handle = undefined;
        await h?.close();
      }),
  };
  return sink;
};

/** The registry's name for this sink's factory. */
export const create = createFileSink;
