/**
 * IDX files (the format of MNIST, Fashion-MNIST and EMNIST; LeCun et al., http://yann.lecun.com/exdb/mnist/):
 * a 4-byte magic 0x00 0x00 <dtype> <ndims>, then ndims big-endian uint32 sizes, then the values big-endian,
 * row-major. Files may be gzipped; compression is detected from the content (1f 8b), not the name.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DataError, type Dataset, type DatasetSplit } from './dataset.js';

/** Element types an IDX file can declare (type bytes 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E). */
export type IdxDType = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

/** Typed array holding the values of one IDX file, in host order. */
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** A parsed IDX file: its element type, its dimensions (outermost first) and its values, row-major. */
export interface IdxArray {
  /** Element type declared by the file's third magic byte. */
  dtype: IdxDType;
  /** Sizes, outermost first (e.g. [60000, 28, 28] for MNIST training images). */
  dims: number[];
  /** All values, row-major; length is the product of `dims`. */
  data: IdxData;
}

interface DTypeInfo {
  dtype: IdxDType;
  code: number;
  bytes: number;
}

const DTYPES: readonly DTypeInfo[] = [
  { dtype: 'uint8', code: 0x08, bytes: 1 },
  { dtype: 'int8', code: 0x09, bytes: 1 },
  { dtype: 'int16', code: 0x0b, bytes: 2 },
  { dtype: 'int32', code: 0x0c, bytes: 4 },
  { dtype: 'float32', code: 0x0d, bytes: 4 },
  { dtype: 'float64', code: 0x0e, bytes: 8 },
];

function hex(b: number | undefined): string {
  return b === undefined ? '(none)' : `0x${b.toString(16).padStart(2, '0')}`;
}

/** True when the bytes start with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Parses an IDX file's bytes (raw or gzipped); `source` names the file in errors. */
export function parseIdx(bytes: Uint8Array, source = '<buffer>'): IdxArray {
  if (isGzip(bytes)) {
    try {
      bytes = gunzipSync(bytes);
    } catch (err) {
      throw new DataError('dataset-format', `${source}: gzip data is corrupt or truncated (${(err as Error).message})`, { cause: err });
    }
  }
  if (bytes.length < 4) {
    throw new DataError('dataset-format', `${source}: truncated IDX file, ${bytes.length} bytes is shorter than the 4-byte magic`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const looksLikeText = bytes[0] === 0x3c /* '<' */ ? ' (it looks like HTML or XML, e.g. an error page)' : '';
    throw new DataError('dataset-format', `${source}: bad IDX magic, first bytes are ${hex(bytes[0])} ${hex(bytes[1])}, expected 0x00 0x00${looksLikeText}`);
  }
  const info = DTYPES.find((d) => d.code === bytes[2]);
  if (!info) {
    throw new DataError('dataset-format', `${source}: bad IDX magic, type byte is ${hex(bytes[2])}, expected one of ${DTYPES.map((d) => hex(d.code)).join(', ')}`);
  }
  const ndims = bytes[3]!;
  if (ndims < 1) throw new DataError('dataset-format', `${source}: IDX dimension count must be ≥ 1, got 0`);
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new DataError('dataset-format', `${source}: truncated IDX file, header declares ${ndims} dimensions (${headerBytes} bytes) but the file has ${bytes.length} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  const expected = headerBytes + count * info.bytes;
  if (bytes.length < expected) {
    throw new DataError('dataset-format', `${source}: truncated IDX file, dims [${dims.join(', ')}] of ${info.dtype} need ${expected} bytes but the file has ${bytes.length}`);
  }
  if (bytes.length > expected) {
    throw new DataError('dataset-format', `${source}: IDX file has ${bytes.length - expected} bytes after the ${count} values its dims [${dims.join(', ')}] declare`);
  }
  return { dtype: info.dtype, dims, data: decodeValues(view, headerBytes, count, info.dtype) };
}

function decodeValues(view: DataView, offset: number, count: number, dtype: IdxDType): IdxData {
  switch (dtype) {
    case 'uint8':
      // Copy, so the result never aliases a pooled or decompressed buffer.
      return new Uint8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case 'int8':
      return new Int8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

/** Encodes an IDX file (big-endian, optionally gzipped); the inverse of `parseIdx`, used by tests and exports. */
export function encodeIdx(array: IdxArray, opts: { gzip?: boolean } = {}): Uint8Array {
  const info = DTYPES.find((d) => d.dtype === array.dtype);
  if (!info) throw new DataError('config', `dtype must be one of ${DTYPES.map((d) => d.dtype).join(', ')}, got ${array.dtype}`);
  if (array.dims.length < 1 || array.dims.length > 255) {
    throw new DataError('config', `dims must have 1 to 255 entries, got ${array.dims.length}`);
  }
  const count = array.dims.reduce((a, b) => a * b, 1);
  if (array.data.length !== count) {
    throw new DataError('config', `data.length must equal the product of dims [${array.dims.join(', ')}] = ${count}, got ${array.data.length}`);
  }
  const header = 4 + 4 * array.dims.length;
  const out = new Uint8Array(header + count * info.bytes);
  const view = new DataView(out.buffer);
  out[2] = info.code;
  out[3] = array.dims.length;
  array.dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const setters: Record<IdxDType, (i: number, v: number) => void> = {
    uint8: (i, v) => view.setUint8(header + i, v),
    int8: (i, v) => view.setInt8(header + i, v),
    int16: (i, v) => view.setInt16(header + 2 * i, v, false),
    int32: (i, v) => view.setInt32(header + 4 * i, v, false),
    float32: (i, v) => view.setFloat32(header + 4 * i, v, false),
    float64: (i, v) => view.setFloat64(header + 8 * i, v, false),
  };
  const set = setters[array.dtype];
  for (let i = 0; i < count; i++) set(i, array.data[i]!);
  return opts.gzip ? new Uint8Array(gzipSync(out)) : out;
}

/** Reads and parses one IDX file (raw or gzipped) from disk. */
export function readIdxFile(path: string): IdxArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DataError(code === 'ENOENT' ? 'dataset-missing' : 'dataset-format', `${path}: cannot read IDX file (${(err as Error).message})`, { cause: err });
  }
  return parseIdx(bytes, path);
}

/** The four files of an IDX dataset, as found on disk. */
export interface IdxFiles {
  /** Training images, e.g. train-images-idx3-ubyte.gz. */
  trainImages: string;
  /** Training labels, e.g. train-labels-idx1-ubyte.gz. */
  trainLabels: string;
  /** Test images, e.g. t10k-images-idx3-ubyte.gz. */
  testImages: string;
  /** Test labels, e.g. t10k-labels-idx1-ubyte.gz. */
  testLabels: string;
}

type Role = keyof IdxFiles;

// Mirrors differ: MNIST uses 't10k-', EMNIST 'test-'; some mirrors write '.idx3-ubyte' for '-idx3-ubyte'.
const STEMS: Record<Role, readonly string[]> = {
  trainImages: ['train-images-idx3-ubyte', 'train-images.idx3-ubyte'],
  trainLabels: ['train-labels-idx1-ubyte', 'train-labels.idx1-ubyte'],
  testImages: ['t10k-images-idx3-ubyte', 't10k-images.idx3-ubyte', 'test-images-idx3-ubyte', 'test-images.idx3-ubyte'],
  testLabels: ['t10k-labels-idx1-ubyte', 't10k-labels.idx1-ubyte', 'test-labels-idx1-ubyte', 'test-labels.idx1-ubyte'],
};

const TRAIN_IMAGES_PATTERN = /^(.*)train-images[-.]idx3-ubyte(\.gz)?$/;

/**
 * Locates the four IDX files in `dir`: the standard names with `prefix` (default ''), uncompressed preferred over
 * '.gz'. Without a prefix and without standard names, a unique prefix such as 'emnist-balanced-' is inferred.
 */
export function findIdxFiles(dir: string, opts: { prefix?: string } = {}): IdxFiles {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new DataError('dataset-missing', `IDX directory ${dir} does not exist or is not a directory`);
  }
  let prefix = opts.prefix ?? '';
  if (opts.prefix === undefined && find(dir, '', 'trainImages') === undefined) {
    const prefixes = [...new Set(readdirSync(dir).flatMap((f) => TRAIN_IMAGES_PATTERN.exec(f)?.[1] ?? []))].sort();
    if (prefixes.length > 1) {
      throw new DataError('config', `IDX directory ${dir} holds several datasets (prefixes ${prefixes.map((p) => `'${p}'`).join(', ')}); pass opts.prefix to choose one`);
    }
    if (prefixes.length === 1) prefix = prefixes[0]!;
  }
  const files = {} as IdxFiles;
  for (const role of Object.keys(STEMS) as Role[]) {
    const path = find(dir, prefix, role);
    if (path === undefined) {
      const wanted = `${prefix}${STEMS[role][0]}[.gz]`;
      throw new DataError(
        'dataset-missing',
        `IDX directory ${dir} has no ${wanted} (also tried ${STEMS[role]
          .slice(1)
          .map((s) => prefix + s)
          .join(', ')}, with and without .gz)`,
      );
    }
    files[role] = path;
  }
  return files;
}

function find(dir: string, prefix: string, role: Role): string | undefined {
  for (const ext of ['', '.gz']) {
    for (const stem of STEMS[role]) {
      const path = join(dir, prefix + stem + ext);
      if (existsSync(path)) return path;
    }
  }
  return undefined;
}

/** Options for `loadIdxDataset`. */
export interface LoadIdxOptions {
  /** Dataset name; default the directory's base name. */
  name?: string;
  /** File-name prefix, e.g. 'emnist-balanced-'; default '' or the unique prefix found in the directory. */
  prefix?: string;
  /** Swap rows and columns of every image; EMNIST's IDX files store images transposed relative to MNIST. */
  transpose?: boolean;
  /** Number of classes; default max(10, largest label + 1). Must exceed every label. */
  numClasses?: number;
  /** Allocate the arrays in SharedArrayBuffers (as `toShared` would), saving a copy when workers need them. */
  shared?: boolean;
}

/** Loads an IDX dataset (train + test) from `dir`, scaling unsigned-byte pixels to [0, 1] float32. */
export function loadIdxDataset(dir: string, opts: LoadIdxOptions = {}): DatasetSplit {
  const files = findIdxFiles(dir, opts.prefix === undefined ? {} : { prefix: opts.prefix });
  const name = opts.name ?? basename(dir);
  const train = idxToDataset(readIdxFile(files.trainImages), readIdxFile(files.trainLabels), {
    name,
    imagesSource: files.trainImages,
    labelsSource: files.trainLabels,
    transpose: opts.transpose ?? false,
    shared: opts.shared ?? false,
  });
  const test = idxToDataset(readIdxFile(files.testImages), readIdxFile(files.testLabels), {
    name,
    imagesSource: files.testImages,
    labelsSource: files.testLabels,
    transpose: opts.transpose ?? false,
    shared: opts.shared ?? false,
  });
  if (train.height !== test.height || train.width !== test.width || train.channels !== test.channels) {
    throw new DataError('dataset-format', `${dir}: train images are ${train.height}×${train.width}×${train.channels} but test images are ${test.height}×${test.width}×${test.channels}`);
  }
  const found = Math.max(10, train.numClasses, test.numClasses);
  if (opts.numClasses !== undefined && (!Number.isSafeInteger(opts.numClasses) || opts.numClasses < Math.max(train.numClasses, test.numClasses))) {
    throw new DataError('config', `numClasses must be an integer ≥ ${Math.max(train.numClasses, test.numClasses)} (largest label in ${dir} + 1), got ${opts.numClasses}`);
  }
  const numClasses = opts.numClasses ?? found;
  train.numClasses = numClasses;
  test.numClasses = numClasses;
  return { train, test };
}

/** Byte → [0, 1] float32, precomputed once: a table lookup is faster than a division per pixel. */
const BYTE_TO_UNIT = new Float32Array(256).map((_, i) => i / 255);

/**
 * Builds one dataset from parsed image and label IDX arrays; numClasses is set to the largest label + 1.
 * Images must be unsigned bytes with dims [n, h, w] or [n, h, w, c]; labels integers in [0, 255] with dims [n].
 */
export function idxToDataset(images: IdxArray, labels: IdxArray, opts: { name: string; imagesSource?: string; labelsSource?: string; transpose?: boolean; shared?: boolean }): Dataset {
  const imgSrc = opts.imagesSource ?? 'images';
  const lblSrc = opts.labelsSource ?? 'labels';
  if (images.dtype !== 'uint8') {
    throw new DataError('dataset-format', `${imgSrc}: image dtype must be uint8 (0x08), got ${images.dtype}`);
  }
  if (images.dims.length !== 3 && images.dims.length !== 4) {
    throw new DataError('dataset-format', `${imgSrc}: image dims must be [n, h, w] or [n, h, w, c], got [${images.dims.join(', ')}]`);
  }
  if (labels.dims.length !== 1) {
    throw new DataError('dataset-format', `${lblSrc}: label dims must be [n], got [${labels.dims.join(', ')}]`);
  }
  if (labels.dtype === 'float32' || labels.dtype === 'float64') {
    throw new DataError('dataset-format', `${lblSrc}: label dtype must be an integer type, got ${labels.dtype}`);
  }
  const [count, h, w, c = 1] = images.dims as [number, number, number, number?];
  if (labels.dims[0] !== count) {
    throw new DataError('dataset-format', `dimension mismatch: ${imgSrc} has ${count} images but ${lblSrc} has ${labels.dims[0]} labels`);
  }
  const lbl = new Uint8Array(opts.shared ? new SharedArrayBuffer(count) : new ArrayBuffer(count));
  let maxLabel = -1;
  for (let i = 0; i < count; i++) {
    const v = labels.data[i]!;
    if (v < 0 || v > 255) throw new DataError('dataset-format', `${lblSrc}: label ${i} must be in [0, 255], got ${v}`);
    lbl[i] = v;
    if (v > maxLabel) maxLabel = v;
  }
  const src = images.data as Uint8Array;
  const bytes = 4 * src.length;
  const pixels = new Float32Array(opts.shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
  if (!opts.transpose) {
    for (let i = 0; i < src.length; i++) pixels[i] = BYTE_TO_UNIT[src[i]!]!;
  } else {
    // Stored as [n, h, w, c] but meaning [n, w, h, c]: write pixel (y, x) of the output from (x, y) of the input.
    const plane = h * w * c;
    for (let n = 0; n < count; n++) {
      const base = n * plane;
      for (let y = 0; y < w; y++) {
        for (let x = 0; x < h; x++) {
          for (let ch = 0; ch < c; ch++) {
            pixels[base + (y * h + x) * c + ch] = BYTE_TO_UNIT[src[base + (x * w + y) * c + ch]!]!;
          }
        }
      }
    }
  }
  return {
    name: opts.name,
    images: pixels,
    labels: lbl,
    count,
    height: opts.transpose ? w : h,
    width: opts.transpose ? h : w,
    channels: c,
    numClasses: Math.max(1, maxLabel + 1),
  };
}

/**
 * Only the training pair of an IDX directory (`train-images-idx3-ubyte[.gz]` and `train-labels-idx1-ubyte[.gz]`,
 * or the `.idx3-ubyte` dot variant): what an edge client holds, with no test files. 10 classes at least.
 */
export function loadIdxTrainOnly(dir: string, opts: { name?: string } = {}): Dataset {
  const pick = (kind: 'images' | 'labels', n: 1 | 3): string => {
    const bases = [`train-${kind}-idx${n}-ubyte`, `train-${kind}.idx${n}-ubyte`];
    for (const b of bases) for (const f of [b, `${b}.gz`]) if (existsSync(join(dir, f))) return join(dir, f);
    throw new DataError('dataset-missing', `IDX directory ${dir} has no ${bases[0]}[.gz] (also tried ${bases[1]}[.gz])`);
  };
  const images = pick('images', 3);
  const labels = pick('labels', 1);
  const ds = idxToDataset(readIdxFile(images), readIdxFile(labels), { name: opts.name ?? basename(dir), imagesSource: images, labelsSource: labels });
  ds.numClasses = Math.max(10, ds.numClasses);
  return ds;
}
