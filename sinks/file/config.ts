/** Config of the `file` sink: its fields and defaults, the only place they are stated. */
import { z } from 'zod';
import { filePath, sinkCommonShape } from '../kit.js';

export const FileSinkSchema = z.strictObject({
  type: z.literal('file').describe('Appends NDJSON, one record per line, to a file or stdout.'),
  ...sinkCommonShape,
  path: filePath('File to append to (created if missing); `-` is standard output.'),
});

export type FileSinkConfig = z.output<typeof FileSinkSchema>;

/** The registry's name for this sink's schema. */
export const schema = FileSinkSchema;
