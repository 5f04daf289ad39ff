/**
 * The content hash of a dataset (its own module, so that dataset.ts stays free of Node built-ins for the browser
 * client's bundle).
 */
import { createHash } from 'node:crypto';
import type { Dataset } from './dataset.js';

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * sha256 (hex) of the shape, labels and float32 pixels (little-endian) of `ds`, for keying artefacts such as
 * trained surrogates. The name is excluded: the same examples under two names hash the same.
 */
export function hashDataset(ds: Dataset): string {
  const hash = createHash('sha256');
  const header = Buffer.alloc(4 * 5);
  [ds.count, ds.height, ds.width, ds.channels, ds.numClasses].forEach((v, i) => header.writeUInt32LE(v, 4 * i));
  hash.update('robust-fl/dataset/v1\n');
  hash.update(header);
  hash.update(Buffer.from(ds.labels.buffer, ds.labels.byteOffset, ds.labels.byteLength));
  if (LITTLE_ENDIAN_HOST) {
    hash.update(Buffer.from(ds.images.buffer, ds.images.byteOffset, ds.images.byteLength));
  } else {
    const le = Buffer.alloc(ds.images.byteLength);
    for (let i = 0; i < ds.images.length; i++) le.writeFloatLE(ds.images[i]!, 4 * i);
    hash.update(le);
  }
  return hash.digest('hex');
}
