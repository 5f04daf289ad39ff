/**
 * Image-folder datasets: PNG files listed in `labels.csv` files (decoded with pngjs). Two layouts:
 *
 *   dir/train/labels.csv + dir/train/*.png     dir/labels.csv (columns file,label,split)
 *   dir/test/labels.csv  + dir/test/*.png      dir/*.png (or any subfolders the file column names)
 *
 * A `labels.csv` has a header row naming its columns (`file` and `label`, and `split` in the single-file layout,
 * in any order; other columns are ignored), then one row per image: the PNG's path relative to the csv's folder,
 * its class (an integer in [0, 255]), and `train` or `test`. Images may be grey (1 channel) or colour (3
 * channels; palette images count as colour, alpha is dropped) and must all have the same width, height and
 * channels; the dataset's input shape is theirs. Pixels become floats in [0, 1] (value / 255, 16-bit images
 * rescaled to 8 bits first). The number of classes is the largest label + 1. Every problem is a DataError naming
 * the file and, for a row, its number. Layout and examples: docs/own-model.md.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import pngjs from 'pngjs';
import { DataError, toShared, type Dataset, type DatasetSplit } from './dataset.js';

/** Options of `loadImageFolder`. */
export interface ImageFolderOptions {
  /** Dataset name (default: the folder's base name). */
  name?: string;
  /** Allocate the arrays in SharedArrayBuffers (for worker threads); default false. */
  shared?: boolean;
}

/** One parsed row of a labels.csv. */
interface Row {
  file: string;
  label: number;
  split: 'train' | 'test' | undefined;
  /** 1-based data row (the header is row 0) and 1-based line of the file. */
  row: number;
  line: number;
}

/** True when `dir` holds an image-folder dataset (a labels.csv at the top or in train/). */
export function isImageFolder(dir: string): boolean {
  return existsSync(path.join(dir, 'labels.csv')) || existsSync(path.join(dir, 'train', 'labels.csv'));
}

/** Loads an image-folder dataset (see the file comment for the layouts); throws DataError naming file and row. */
export function loadImageFolder(dir: string, opts: ImageFolderOptions = {}): DatasetSplit {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new DataError('dataset-missing', `${dir} is not a directory`);
  const name = opts.name ?? path.basename(path.resolve(dir));
  const top = path.join(dir, 'labels.csv');
  const trainCsv = path.join(dir, 'train', 'labels.csv');
  const testCsv = path.join(dir, 'test', 'labels.csv');
  let parts: { train: { csv: string; rows: Row[] }; test: { csv: string; rows: Row[] } };
  if (existsSync(trainCsv) || existsSync(testCsv)) {
    if (existsSync(top)) throw new DataError('dataset-format', `${dir} has both labels.csv and train/ or test/ labels.csv files; keep one layout (see docs/own-model.md)`);
    for (const f of [trainCsv, testCsv])
      if (!existsSync(f)) throw new DataError('dataset-missing', `${f} is missing: an image-folder dataset with train/ and test/ folders needs a labels.csv (columns file,label) in each`);
    parts = { train: { csv: trainCsv, rows: readLabels(trainCsv, false) }, test: { csv: testCsv, rows: readLabels(testCsv, false) } };
  } else if (existsSync(top)) {
    const rows = readLabels(top, true);
    parts = { train: { csv: top, rows: rows.filter((r) => r.split === 'train') }, test: { csv: top, rows: rows.filter((r) => r.split === 'test') } };
  } else {
    throw new DataError(
      'dataset-missing',
      `${dir} has no labels.csv: an image-folder dataset needs train/labels.csv and test/labels.csv (columns file,label), or one labels.csv with columns file,label,split (see docs/own-model.md)`,
    );
  }
  for (const [split, p] of Object.entries(parts)) {
    if (p.rows.length === 0) throw new DataError('dataset-format', `${p.csv} lists no ${split} images`);
  }
  let numClasses = 1;
  for (const p of [parts.train, parts.test]) for (const r of p.rows) numClasses = Math.max(numClasses, r.label + 1);
  const shape: Shape = { ref: undefined };
  const train = decodeAll(`${name}/train`, parts.train.csv, parts.train.rows, shape, numClasses);
  const test = decodeAll(`${name}/test`, parts.test.csv, parts.test.rows, shape, numClasses);
  train.name = name;
  test.name = name;
  return opts.shared === true ? { train: toShared(train), test: toShared(test) } : { train, test };
}

/** The first image's shape, which every other image must match. */
interface Shape {
  ref: { height: number; width: number; channels: number; file: string } | undefined;
}

const channelWord = (c: number): string => (c === 1 ? 'grey' : 'colour (RGB)');

function decodeAll(name: string, csv: string, rows: readonly Row[], shape: Shape, numClasses: number): Dataset {
  const base = path.dirname(csv);
  let images: Float32Array | undefined;
  const labels = new Uint8Array(rows.length);
  rows.forEach((r, i) => {
    const at = `${csv}, row ${r.row} (line ${r.line})`;
    const file = path.resolve(base, r.file);
    if (!existsSync(file) || !statSync(file).isFile()) throw new DataError('dataset-missing', `${at}: ${r.file} does not exist (looked for ${file})`);
    let png: ReturnType<typeof pngjs.PNG.sync.read>;
    try {
      png = pngjs.PNG.sync.read(readFileSync(file));
    } catch (err) {
      throw new DataError('dataset-format', `${at}: ${r.file} is not a readable PNG (${(err as Error).message})`, { cause: err });
    }
    const channels = png.color ? 3 : 1;
    if (shape.ref === undefined) shape.ref = { height: png.height, width: png.width, channels, file: r.file };
    const ref = shape.ref;
    if (png.height !== ref.height || png.width !== ref.width || channels !== ref.channels) {
      throw new DataError(
        'dataset-format',
        `${at}: ${r.file} is ${png.width}×${png.height} ${channelWord(channels)}, but the dataset's images are ${ref.width}×${ref.height} ${channelWord(ref.channels)} ` +
          `(like ${ref.file}); every image must have the same width, height and channels`,
      );
    }
    const d = ref.height * ref.width * ref.channels;
    images ??= new Float32Array(rows.length * d);
    const px = png.data;
    const out = i * d;
    const n = ref.height * ref.width;
    if (channels === 1) for (let k = 0; k < n; k++) images[out + k] = px[4 * k]! / 255;
    else {
      for (let k = 0; k < n; k++) {
        images[out + 3 * k] = px[4 * k]! / 255;
        images[out + 3 * k + 1] = px[4 * k + 1]! / 255;
        images[out + 3 * k + 2] = px[4 * k + 2]! / 255;
      }
    }
    labels[i] = r.label;
  });
  const ref = shape.ref!;
  return { name, images: images!, labels, count: rows.length, height: ref.height, width: ref.width, channels: ref.channels, numClasses };
}

/** Parses a labels.csv: a header naming `file`, `label` (and `split` when `withSplit`), then one row per image. */
function readLabels(csv: string, withSplit: boolean): Row[] {
  const lines = readFileSync(csv, 'utf8')
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/);
  const headerAt = lines.findIndex((l) => l.trim().length > 0);
  if (headerAt < 0) throw new DataError('dataset-format', `${csv} is empty: it needs a header row (file,label${withSplit ? ',split' : ''}) and one row per image`);
  const header = splitCsvLine(lines[headerAt]!, csv, headerAt + 1).map((h) => h.trim().toLowerCase());
  const col = (c: string): number => header.indexOf(c);
  const need = withSplit ? ['file', 'label', 'split'] : ['file', 'label'];
  for (const c of need) {
    if (col(c) < 0) {
      throw new DataError(
        'dataset-format',
        `${csv}, line ${headerAt + 1}: the header has no "${c}" column (it has ${header.map((h) => JSON.stringify(h)).join(', ')}); ` +
          (c === 'split'
            ? 'a labels.csv at the top of the folder needs columns file,label,split (split = train or test), or use train/ and test/ folders each with a labels.csv'
            : `a labels.csv needs columns ${need.join(',')}`),
      );
    }
  }
  const rows: Row[] = [];
  for (let i = headerAt + 1; i < lines.length; i++) {
    if (lines[i]!.trim().length === 0) continue;
    const line = i + 1;
    const row = rows.length + 1;
    const at = `${csv}, row ${row} (line ${line})`;
    const cells = splitCsvLine(lines[i]!, csv, line);
    const cell = (c: string): string => (cells[col(c)] ?? '').trim();
    const file = cell('file');
    if (file.length === 0) throw new DataError('dataset-format', `${at}: the file column is empty`);
    const labelText = cell('label');
    const label = /^\d+$/.test(labelText) ? Number(labelText) : NaN;
    if (!(Number.isInteger(label) && label >= 0 && label <= 255)) {
      throw new DataError('dataset-format', `${at}: label ${JSON.stringify(labelText)} of ${file} is not an integer class in [0, 255]`);
    }
    let split: Row['split'];
    if (withSplit) {
      const s = cell('split').toLowerCase();
      if (s !== 'train' && s !== 'test') throw new DataError('dataset-format', `${at}: split ${JSON.stringify(cell('split'))} of ${file} must be "train" or "test"`);
      split = s;
    }
    rows.push({ file, label, split, row, line });
  }
  return rows;
}

/** Splits one CSV line at commas; fields may be double-quoted ("" inside quotes is a quote). */
function splitCsvLine(text: string, csv: string, line: number): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"' && cur.trim().length === 0) {
      cur = '';
      quoted = true;
    } else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (quoted) throw new DataError('dataset-format', `${csv}, line ${line}: an opening quote is never closed`);
  out.push(cur);
  return out;
}
