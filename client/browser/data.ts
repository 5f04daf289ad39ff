/// <reference lib="dom" />
/**
 * The browser client's local data: the embedded demo split (the seeded synthetic dataset, partitioned IID as the
 * coordinator's simulations and tests partition it, with the shared set D_s left out) or IDX files the user picks
 * (`train-images-idx3-ubyte` and `train-labels-idx1-ubyte`, raw or .gz), parsed here without Node built-ins.
 */
import type { Dataset } from '../../shared/data/dataset.js';
import { makeSyntheticDataset } from '../../shared/data/synthetic.js';
import { partition, sampleSharedSet } from '../../shared/data/partition.js';

/** A client's local data: the dataset and the rows of it this client trains on. */
export interface LocalData {
  data: Dataset;
  indices: Int32Array;
  describe: string;
}

/** The demo split's parameters (the coordinator's federation must use the same count, seed and client count). */
export interface DemoSplit {
  count: number;
  /** The synthetic dataset's seed. */
  seed: number;
  /** The seed of the shared set and the partition (the federation's `seed`). */
  splitSeed: number;
  clients: number;
  /** This client's part, 0-based. */
  part: number;
  sharedSetSize: number;
}

/** Part `part` of the IID split of the seeded synthetic dataset, D_s excluded. */
export function demoData(s: DemoSplit): LocalData {
  const { train } = makeSyntheticDataset({ count: s.count, seed: s.seed });
  const shared = sampleSharedSet(train.count, s.sharedSetSize, s.splitSeed);
  const parts = partition(train.labels, { kind: 'iid' }, s.clients, s.splitSeed, shared);
  const indices = parts[s.part];
  if (indices === undefined) throw new Error(`demo split: part ${s.part} of ${s.clients} does not exist`);
  return { data: train, indices, describe: `demo split: part ${s.part + 1} of ${s.clients}, ${indices.length} of ${train.count} synthetic images (seeds ${s.seed}, ${s.splitSeed})` };
}

async function bytesOf(file: Blob & { name: string }): Promise<Uint8Array> {
  const raw = new Uint8Array(await file.arrayBuffer());
  if (raw[0] !== 0x1f || raw[1] !== 0x8b) return raw;
  const stream = new Blob([raw]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Parses an IDX file's header: its element type, dimensions and where the data starts. */
function idxHeader(b: Uint8Array, name: string): { dims: number[]; offset: number } {
  if (b.length < 4 || b[0] !== 0 || b[1] !== 0 || b[2] !== 0x08) throw new Error(`${name}: not an IDX file of unsigned bytes (magic ${Array.from(b.subarray(0, 4)).join(' ')})`);
  const n = b[3]!;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 4 + 4 * n) throw new Error(`${name}: truncated IDX header`);
  const dims = Array.from({ length: n }, (_, i) => view.getUint32(4 + 4 * i));
  const offset = 4 + 4 * n;
  const size = dims.reduce((a, d) => a * d, 1);
  if (b.length - offset !== size) throw new Error(`${name}: ${b.length - offset} data bytes for dimensions ${dims.join('×')}`);
  return { dims, offset };
}

/** A dataset from picked IDX image and label files; this client trains on all of it. */
export async function idxData(images: Blob & { name: string }, labels: Blob & { name: string }): Promise<LocalData> {
  const ib = await bytesOf(images);
  const lb = await bytesOf(labels);
  const ih = idxHeader(ib, images.name);
  const lh = idxHeader(lb, labels.name);
  if (ih.dims.length !== 3) throw new Error(`${images.name}: expected count × height × width images, got dimensions ${ih.dims.join('×')}`);
  if (lh.dims.length !== 1 || lh.dims[0] !== ih.dims[0]) throw new Error(`${labels.name}: expected ${ih.dims[0]} labels, got dimensions ${lh.dims.join('×')}`);
  const [count, height, width] = ih.dims as [number, number, number];
  const pixels = ib.subarray(ih.offset);
  const x = new Float32Array(pixels.length);
  for (let i = 0; i < x.length; i++) x[i] = pixels[i]! / 255;
  const y = lb.slice(lh.offset);
  let numClasses = 10;
  for (const v of y) numClasses = Math.max(numClasses, v + 1);
  const data: Dataset = { name: images.name, images: x, labels: y, count, height, width, channels: 1, numClasses };
  return { data, indices: Int32Array.from({ length: count }, (_, i) => i), describe: `${count} images ${height}×${width} from ${images.name}` };
}
