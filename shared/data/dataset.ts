/**
 * Dataset types and helpers. A dataset is a few flat typed arrays plus its shape, so it can be hashed, sliced by
 * index lists from a partitioner, and placed in shared memory for worker threads without per-task copies.
 */
import { CodedError, type DataErrorCode } from '../errors/catalogue.js';

/** A labelled image dataset held in flat typed arrays (shareable with worker threads). */
export interface Dataset {
  /** Human-readable name, e.g. 'fashion-mnist'; not part of the hash. */
  name: string;
  /** count × height × width × channels, row-major (NHWC), values in [0, 1]. */
  images: Float32Array;
  /** One class index per example, each in [0, numClasses). */
  labels: Uint8Array;
  /** Number of examples. */
  count: number;
  /** Image height in pixels. */
  height: number;
  /** Image width in pixels. */
  width: number;
  /** Channels per pixel (1 for grey scale). */
  channels: number;
  /** Number of classes the labels range over (some may be absent from a subset). */
  numClasses: number;
}

/** A train/test pair of datasets with the same shape and classes. */
export interface DatasetSplit {
  /** Examples that partitioners split between clients (and D_s is drawn from). */
  train: Dataset;
  /** Held-out examples for evaluation only. */
  test: Dataset;
}

/** A dataset's arrays as raw SharedArrayBuffers plus its shape: the form to post to a worker explicitly. */
export interface SharedDatasetHandle {
  /** See `Dataset.name`. */
  name: string;
  /** Backing memory of `Dataset.images` (Float32, count·height·width·channels entries). */
  images: SharedArrayBuffer;
  /** Backing memory of `Dataset.labels` (Uint8, count entries). */
  labels: SharedArrayBuffer;
  /** See `Dataset.count`. */
  count: number;
  /** See `Dataset.height`. */
  height: number;
  /** See `Dataset.width`. */
  width: number;
  /** See `Dataset.channels`. */
  channels: number;
  /** See `Dataset.numClasses`. */
  numClasses: number;
}

/** What went wrong with a dataset: absent files, malformed content, or bad options (shared/errors/catalogue.ts). */
export type { DataErrorCode };

/** The error every data loader and partitioner throws; `code` says which kind, the message names field and value. */
export class DataError extends CodedError<DataErrorCode> {
  /** Creates an error of the given kind. */
  constructor(code: DataErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'DataError';
  }
}

/** Number of values in one image (height·width·channels). */
export function imageSize(ds: Pick<Dataset, 'height' | 'width' | 'channels'>): number {
  return ds.height * ds.width * ds.channels;
}

function checkShapeField(field: string, value: unknown, min: number): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new DataError('dataset-format', `${field} must be an integer ≥ ${min}, got ${String(value)}`);
  }
}

/**
 * Checks that a dataset's arrays match its shape and its labels lie in [0, numClasses); throws a
 * 'dataset-format' DataError otherwise. Pixel values are checked only when `checkPixels` is set (O(size)).
 */
export function validateDataset(ds: Dataset, opts: { checkPixels?: boolean } = {}): Dataset {
  checkShapeField(`${ds.name}.count`, ds.count, 0);
  checkShapeField(`${ds.name}.height`, ds.height, 1);
  checkShapeField(`${ds.name}.width`, ds.width, 1);
  checkShapeField(`${ds.name}.channels`, ds.channels, 1);
  checkShapeField(`${ds.name}.numClasses`, ds.numClasses, 1);
  if (ds.numClasses > 256) {
    throw new DataError('dataset-format', `${ds.name}.numClasses must be ≤ 256 (labels are bytes), got ${ds.numClasses}`);
  }
  if (!(ds.images instanceof Float32Array) || ds.images.length !== ds.count * imageSize(ds)) {
    throw new DataError(
      'dataset-format',
      `${ds.name}.images must be a Float32Array of count·height·width·channels = ${ds.count * imageSize(ds)} values, ` +
        `got ${ds.images instanceof Float32Array ? ds.images.length : typeof ds.images}`,
    );
  }
  if (!(ds.labels instanceof Uint8Array) || ds.labels.length !== ds.count) {
    throw new DataError('dataset-format', `${ds.name}.labels must be a Uint8Array of count = ${ds.count} values, ` + `got ${ds.labels instanceof Uint8Array ? ds.labels.length : typeof ds.labels}`);
  }
  for (let i = 0; i < ds.count; i++) {
    if (ds.labels[i]! >= ds.numClasses) {
      throw new DataError('dataset-format', `${ds.name}.labels[${i}] must be < numClasses (${ds.numClasses}), got ${ds.labels[i]}`);
    }
  }
  if (opts.checkPixels) {
    for (let i = 0; i < ds.images.length; i++) {
      const v = ds.images[i]!;
      if (!(v >= 0 && v <= 1)) {
        throw new DataError('dataset-format', `${ds.name}.images[${i}] must be in [0, 1], got ${v}`);
      }
    }
  }
  return ds;
}

/** A new dataset holding copies of the examples at `indices`, in that order (indices may repeat). */
export function subset(ds: Dataset, indices: ArrayLike<number>, name: string = ds.name): Dataset {
  const size = imageSize(ds);
  const images = new Float32Array(indices.length * size);
  const labels = new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const idx = indices[i]!;
    if (!Number.isInteger(idx) || idx < 0 || idx >= ds.count) {
      throw new DataError('config', `indices[${i}] must be an integer in [0, ${ds.count}) for ${ds.name}, got ${idx}`);
    }
    images.set(ds.images.subarray(idx * size, (idx + 1) * size), i * size);
    labels[i] = ds.labels[idx]!;
  }
  return { ...shapeOf(ds), name, images, labels, count: indices.length };
}

function shapeOf(ds: Dataset): Omit<Dataset, 'images' | 'labels' | 'name' | 'count'> {
  return { height: ds.height, width: ds.width, channels: ds.channels, numClasses: ds.numClasses };
}

/** True when both arrays of `ds` live in SharedArrayBuffers (posting it to a worker then shares, not copies). */
export function isShared(ds: Dataset): boolean {
  return ds.images.buffer instanceof SharedArrayBuffer && ds.labels.buffer instanceof SharedArrayBuffer;
}

/**
 * A copy of `ds` whose arrays are backed by SharedArrayBuffers. Structured clone (postMessage, piscina tasks)
 * then passes the memory itself, so N workers hold one copy of the training set. Returns `ds` if already shared.
 */
export function toShared(ds: Dataset): Dataset {
  return isShared(ds) ? ds : copyToShared(ds);
}

function copyToShared(ds: Dataset): Dataset {
  const images = new Float32Array(new SharedArrayBuffer(ds.images.byteLength));
  images.set(ds.images);
  const labels = new Uint8Array(new SharedArrayBuffer(ds.labels.byteLength));
  labels.set(ds.labels);
  return { ...shapeOf(ds), name: ds.name, count: ds.count, images, labels };
}

function coversWholeBuffer(view: ArrayBufferView): boolean {
  return view.byteOffset === 0 && view.byteLength === view.buffer.byteLength;
}

/** The raw buffers and shape of a shared dataset, for transports that carry buffers but not typed-array views. */
export function sharedHandle(ds: Dataset): SharedDatasetHandle {
  // A view over part of a larger buffer would give the receiver the wrong extent, so such views are copied.
  const shared = isShared(ds) && coversWholeBuffer(ds.images) && coversWholeBuffer(ds.labels) ? ds : copyToShared(ds);
  return {
    ...shapeOf(shared),
    name: shared.name,
    count: shared.count,
    images: shared.images.buffer as SharedArrayBuffer,
    labels: shared.labels.buffer as SharedArrayBuffer,
  };
}

/** Rebuilds a dataset (zero-copy views) from a `SharedDatasetHandle`, checking that the buffers fit the shape. */
export function datasetFromShared(handle: SharedDatasetHandle): Dataset {
  const ds: Dataset = {
    ...handle,
    images: new Float32Array(handle.images),
    labels: new Uint8Array(handle.labels),
  };
  return validateDataset(ds);
}

/** Number of examples of each class, indexed by class (length numClasses). */
export function classCounts(labels: ArrayLike<number>, numClasses?: number): number[] {
  let k = numClasses ?? 0;
  if (numClasses === undefined) for (let i = 0; i < labels.length; i++) k = Math.max(k, labels[i]! + 1);
  const counts = new Array<number>(k).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    if (label >= k) throw new DataError('config', `labels[${i}] must be < numClasses (${k}), got ${label}`);
    counts[label]!++;
  }
  return counts;
}
