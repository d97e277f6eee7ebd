/**
 * Compression codecs of the `kafka` sink beyond kafkajs's built-in gzip, registered in kafkajs's `CompressionCodecs`
 * the first time a sink asks for one. Each comes from a package that installs without build scripts (the image runs
 * `npm ci --ignore-scripts`), and each is tested against a real broker (test/sinks/kafka.test.ts):
 * - snappy: `kafkajs-snappy`, the codec kafkajs documents (pure JS, on `snappyjs`);
 * - lz4: `lz4-napi` (prebuilt binaries per platform), LZ4 frames as Kafka reads them. kafkajs documents
 *   `kafkajs-lz4`, but it needs a node-gyp build of `lz4`; the pure-JS `lz4js` writes frames the broker refuses;
 * - zstd: `@bokuweb/zstd-wasm` (WebAssembly). `@kafkajs/zstd` needs a node-gyp build of `cppzst`, which fails on Node 20.
 */
import { createRequire } from 'node:module';
import kafkajs from 'kafkajs';

const { CompressionCodecs, CompressionTypes } = kafkajs;
const require = createRequire(import.meta.url);

export type KafkaCompression = 'gzip' | 'none' | 'snappy' | 'lz4' | 'zstd';

/** kafkajs's codec shape: a factory of `compress(encoder)` / `decompress(buffer)`. */
type Codec = () => {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
};

const LOADERS: Record<Exclude<KafkaCompression, 'gzip' | 'none'>, () => Promise<Codec>> = {
  snappy: async () => require('kafkajs-snappy') as Codec,
  lz4: async () => {
    const lz4 = require('lz4-napi') as typeof import('lz4-napi');
    return () => ({
      compress: ({ buffer }) => lz4.compressFrame(buffer),
      decompress: (buffer) => lz4.decompressFrame(buffer),
    });
  },
  zstd: async () => {
    const zstd = require('@bokuweb/zstd-wasm') as typeof import('@bokuweb/zstd-wasm');
    await zstd.init();
    return () => ({
      compress: async ({ buffer }) => Buffer.from(zstd.compress(buffer, 3)),
      decompress: async (buffer) => Buffer.from(zstd.decompress(buffer)),
    });
  },
};

const TYPES = { snappy: CompressionTypes.Snappy, lz4: CompressionTypes.LZ4, zstd: CompressionTypes.ZSTD } as const;
const loading = new Map<string, Promise<void>>();

/** Registers the codec for `compression` once per process (gzip and none need none); rejects with what to fix. */
export function loadCodec(compression: KafkaCompression, sink: string): Promise<void> {
  if (compression === 'gzip' || compression === 'none') return Promise.resolve();
  let load = loading.get(compression);
  if (!load) {
    load = LOADERS[compression]().then((codec) => {
      CompressionCodecs[TYPES[compression]] = codec;
    });
    loading.set(compression, load);
    load.catch(() => loading.delete(compression));
  }
  return load.catch((err: unknown) => {
    throw new Error(
      `kafka sink '${sink}': cannot load the ${compression} codec (${(err as Error).message}); use compression: gzip or none`,
      { cause: err },
    );
  });
}
