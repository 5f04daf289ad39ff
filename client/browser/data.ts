/// <reference lib="dom" />
/**
 * The browser client's local data: the embedded demo split (the seeded synthetic dataset, partitioned IID as the
 * coordinator's simulations and tests partition it, with the shared set D_s left out), IDX files the user picks
 * (`train-images-idx3-ubyte` and `train-labels-idx1-ubyte`, raw or .gz), or a picked folder of PNGs with a
 * `labels.csv` (shared/data/images.ts's layouts: `train/labels.csv`, or one `labels.csv` whose `split` column says
 * train), decoded by the browser; parsed here without Node built-ins.
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

/** A picked file with its path inside the picked folder (`webkitRelativePath`). */
export type FolderFile = Blob & { name: string; webkitRelativePath: string };

/** Parses a labels.csv: rows of file and label (and split), by the header's column names. */
function parseLabels(text: string, where: string): { file: string; label: number; split: string | undefined }[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const head = (lines[0] ?? '').split(',').map((c) => c.trim().toLowerCase());
  const fi = head.indexOf('file');
  const li = head.indexOf('label');
  const si = head.indexOf('split');
  if (fi < 0 || li < 0) throw new Error(`${where}: the header must name the columns file and label, got '${lines[0] ?? ''}'`);
  return lines.slice(1).map((l, i) => {
    const cells = l.split(',').map((c) => c.trim());
    const label = Number(cells[li]);
    if (!Number.isInteger(label) || label < 0 || label > 255) throw new Error(`${where}, row ${i + 1}: label '${cells[li] ?? ''}' is not an integer in [0, 255]`);
    return { file: cells[fi] ?? '', label, split: si >= 0 ? cells[si]?.toLowerCase() : undefined };
  });
}

/** RGBA pixels of a PNG, decoded by the browser without colour management or premultiplied alpha. */
async function decodePng(file: Blob, where: string): Promise<{ width: number; height: number; rgba: Uint8ClampedArray }> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch (err) {
    throw new Error(`${where}: not a decodable image (${err instanceof Error ? err.message : String(err)})`);
  }
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d');
  if (ctx === null) throw new Error('no 2D canvas in this browser');
  ctx.drawImage(bitmap, 0, 0);
  const { data } = ctx.getImageData(0, 0, bitmap.width, bitmap.height);
  bitmap.close();
  return { width: canvas.width, height: canvas.height, rgba: data };
}

/**
 * A dataset from a picked folder of PNGs and its labels.csv (the training rows; this client trains on all of
 * them). Grey when every picked image is grey (r = g = b), else colour; alpha is dropped; pixels / 255.
 *
 * A browser that cannot pick folders (older mobile browsers) offers a multi-file picker instead: files picked
 * that way carry no folder path, and are then found by file name, with the labels.csv picked among them (the
 * PNGs and labels.csv of one folder, picked together).
 */
export async function pngFolderData(files: readonly FolderFile[]): Promise<LocalData> {
  const flat = files.length > 0 && files.every((f) => f.webkitRelativePath === '');
  const byPath = new Map(files.map((f) => [flat ? f.name : f.webkitRelativePath.split('/').slice(1).join('/'), f]));
  const csvPath = byPath.has('train/labels.csv') ? 'train/labels.csv' : byPath.has('labels.csv') ? 'labels.csv' : undefined;
  if (csvPath === undefined)
    throw new Error(
      flat
        ? 'the picked files include no labels.csv: pick the PNGs and their labels.csv together; see docs/own-model.md for the layout'
        : 'the picked folder has no labels.csv (nor train/labels.csv); see docs/own-model.md for the layout',
    );
  const base = csvPath.includes('/') ? 'train/' : '';
  const rows = parseLabels(await byPath.get(csvPath)!.text(), csvPath).filter((r) => r.split === undefined || r.split === 'train');
  if (rows.length === 0) throw new Error(`${csvPath}: no training rows`);
  const decoded: { width: number; height: number; rgba: Uint8ClampedArray }[] = [];
  for (const r of rows) {
    const f = byPath.get(flat ? (r.file.split('/').pop() ?? r.file) : base + r.file);
    if (f === undefined) throw new Error(`${csvPath}: ${r.file} is not among the picked ${flat ? 'files' : 'folder’s files'}`);
    decoded.push(await decodePng(f, base + r.file));
  }
  const { width, height } = decoded[0]!;
  for (const [i, d] of decoded.entries()) if (d.width !== width || d.height !== height) throw new Error(`${base}${rows[i]!.file}: ${d.width}×${d.height}, but the first image is ${width}×${height}`);
  let grey = true;
  for (const d of decoded) for (let p = 0; grey && p < d.rgba.length; p += 4) grey = d.rgba[p] === d.rgba[p + 1] && d.rgba[p] === d.rgba[p + 2];
  const channels = grey ? 1 : 3;
  const per = width * height * channels;
  const images = new Float32Array(rows.length * per);
  decoded.forEach((d, i) => {
    for (let p = 0, o = i * per; p < width * height; p++) for (let c = 0; c < channels; c++) images[o++] = d.rgba[4 * p + c]! / 255;
  });
  const labels = Uint8Array.from(rows, (r) => r.label);
  const numClasses = Math.max(...labels) + 1;
  const data: Dataset = { name: flat ? 'picked files' : (files[0]?.webkitRelativePath.split('/')[0] ?? 'images'), images, labels, count: rows.length, height, width, channels, numClasses };
  return { data, indices: Int32Array.from({ length: rows.length }, (_, i) => i), describe: `${rows.length} images ${height}×${width}×${channels} from ${csvPath}` };
}
