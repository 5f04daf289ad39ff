import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';
import {
  DEFAULT_FASHION_MNIST_DIR,
  classCounts,
  datasetFromShared,
  encodeIdx,
  loadIdxTrainOnly,
  findIdxFiles,
  hashDataset,
  idxToDataset,
  isShared,
  loadDataset,
  loadEmbeddedMnist,
  loadEmbeddedMnistAll,
  loadIdxDataset,
  makeSyntheticDataset,
  parseIdx,
  readIdxFile,
  sharedHandle,
  subset,
  toShared,
  validateDataset,
  type Dataset,
  type IdxArray,
} from '../shared/data/index.js';
import { expectDataError } from './helpers/errors.js';

function imageKey(ds: Dataset, i: number): string {
  const size = ds.height * ds.width * ds.channels;
  return Buffer.from(ds.images.buffer, ds.images.byteOffset + 4 * i * size, 4 * size).toString('base64');
}

/** Tiny 3-image, 2×3 IDX pair with known pixels. */
const TINY_PIXELS = Uint8Array.from({ length: 3 * 2 * 3 }, (_, i) => (i * 17) % 256);
const TINY_IMAGES: IdxArray = { dtype: 'uint8', dims: [3, 2, 3], data: TINY_PIXELS };
const TINY_LABELS: IdxArray = { dtype: 'uint8', dims: [3], data: Uint8Array.from([2, 0, 11]) };

describe('data', () => {
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'robust-fl-data-'));
  });
  after(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  describe('IDX', () => {
    it('parses a hand-written big-endian file', () => {
      const bytes = Uint8Array.from([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 255]);
      const idx = parseIdx(bytes);
      expect(idx.dtype).to.equal('uint8');
      expect(idx.dims).to.deep.equal([2, 3]);
      expect(Array.from(idx.data)).to.deep.equal([1, 2, 3, 4, 5, 255]);
      const i16 = parseIdx(Uint8Array.from([0, 0, 0x0b, 1, 0, 0, 0, 2, 0x01, 0x02, 0xff, 0xfe]));
      expect(Array.from(i16.data)).to.deep.equal([0x0102, -2]);
    });

    it('round-trips every dtype through files on disk, raw and gzipped', () => {
      const cases: IdxArray[] = [
        TINY_IMAGES,
        { dtype: 'int8', dims: [4], data: Int8Array.from([-128, -1, 0, 127]) },
        { dtype: 'int16', dims: [2, 2], data: Int16Array.from([-32768, -1, 1, 32767]) },
        { dtype: 'int32', dims: [3], data: Int32Array.from([-(2 ** 31), 0, 2 ** 31 - 1]) },
        { dtype: 'float32', dims: [2], data: Float32Array.from([0.25, -1.5e-7]) },
        { dtype: 'float64', dims: [1, 1, 2], data: Float64Array.from([Math.PI, -0]) },
      ];
      for (const original of cases) {
        for (const gzip of [false, true]) {
          const path = join(tmp, `rt-${original.dtype}${gzip ? '.gz' : ''}`);
          const bytes = encodeIdx(original, { gzip });
          expect(bytes[0] === 0x1f && bytes[1] === 0x8b).to.equal(gzip);
          writeFileSync(path, bytes);
          const back = readIdxFile(path);
          expect(back.dtype).to.equal(original.dtype);
          expect(back.dims).to.deep.equal(original.dims);
          expect(Array.from(back.data)).to.deep.equal(Array.from(original.data));
        }
      }
    });

    it('detects gzip by content, not by file name', () => {
      const path = join(tmp, 'gz-without-suffix');
      writeFileSync(path, gzipSync(encodeIdx(TINY_LABELS)));
      expect(Array.from(readIdxFile(path).data)).to.deep.equal([2, 0, 11]);
    });

    it('rejects bad magic, unknown types, truncated files and trailing bytes', () => {
      const good = encodeIdx(TINY_IMAGES);
      expectDataError(() => parseIdx(Uint8Array.from([0x50, 0x4b, 3, 4, 0, 0]), 'x.idx'), 'dataset-format', /x\.idx: bad IDX magic.*0x50 0x4b/);
      expectDataError(() => parseIdx(new TextEncoder().encode('<html>404</html>')), 'dataset-format', /HTML/);
      expectDataError(() => parseIdx(Uint8Array.from([0, 0, 0x07, 1, 0, 0, 0, 0])), 'dataset-format', /type byte is 0x07/);
      expectDataError(() => parseIdx(good.subarray(0, 2)), 'dataset-format', /truncated.*2 bytes/);
      expectDataError(() => parseIdx(good.subarray(0, 10)), 'dataset-format', /truncated.*3 dimensions/);
      expectDataError(() => parseIdx(good.subarray(0, good.length - 1)), 'dataset-format', /truncated.*dims \[3, 2, 3\].*need 34 bytes.*33/);
      expectDataError(() => parseIdx(Uint8Array.from([...good, 0])), 'dataset-format', /1 bytes after/);
      const gz = gzipSync(good);
      expectDataError(() => parseIdx(gz.subarray(0, gz.length - 6)), 'dataset-format', /gzip data is corrupt or truncated/);
    });

    it('reports a missing file as dataset-missing', () => {
      expectDataError(() => readIdxFile(join(tmp, 'nope-idx1-ubyte')), 'dataset-missing', /nope-idx1-ubyte/);
    });

    it('loads a directory with the dot-variant names and gzip, scaling bytes to [0, 1]', () => {
      const dir = join(tmp, 'dot-variant');
      mkdirSync(dir);
      writeFileSync(join(dir, 'train-images.idx3-ubyte.gz'), encodeIdx(TINY_IMAGES, { gzip: true }));
      writeFileSync(join(dir, 'train-labels.idx1-ubyte'), encodeIdx(TINY_LABELS));
      writeFileSync(join(dir, 't10k-images-idx3-ubyte'), encodeIdx(TINY_IMAGES));
      writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), encodeIdx(TINY_LABELS, { gzip: true }));
      const { train, test } = loadIdxDataset(dir, { name: 'tiny' });
      expect(train).to.include({ name: 'tiny', count: 3, height: 2, width: 3, channels: 1, numClasses: 12 });
      expect(test.count).to.equal(3);
      expect(Array.from(train.labels)).to.deep.equal([2, 0, 11]);
      expect(train.images[1]).to.equal(Math.fround(17 / 255));
      expect(Array.from(train.images)).to.deep.equal(Array.from(test.images));
      validateDataset(train, { checkPixels: true });
      // numClasses is at least 10 even when the labels use fewer.
      const few = idxToDataset(TINY_IMAGES, { dtype: 'uint8', dims: [3], data: Uint8Array.from([0, 1, 1]) }, { name: 'few' });
      expect(few.numClasses).to.equal(2);
      writeFileSync(join(dir, 'train-labels.idx1-ubyte'), encodeIdx({ dtype: 'uint8', dims: [3], data: Uint8Array.from([0, 1, 1]) }));
      writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), encodeIdx({ dtype: 'uint8', dims: [3], data: Uint8Array.from([0, 1, 1]) }));
      expect(loadIdxDataset(dir).train.numClasses).to.equal(10);
      expect(loadIdxDataset(dir).train.name).to.equal('dot-variant');
      expect(isShared(loadIdxDataset(dir, { shared: true }).train)).to.equal(true);
    });

    it('transposes images on request (EMNIST layout)', () => {
      const img: IdxArray = { dtype: 'uint8', dims: [1, 2, 3], data: Uint8Array.from([1, 2, 3, 4, 5, 6]) };
      const ds = idxToDataset(img, { dtype: 'uint8', dims: [1], data: Uint8Array.of(0) }, { name: 't', transpose: true });
      expect([ds.height, ds.width]).to.deep.equal([3, 2]);
      expect(Array.from(ds.images, (v) => Math.round(v * 255))).to.deep.equal([1, 4, 2, 5, 3, 6]);
    });

    it('infers a unique file prefix and accepts test- for t10k- (EMNIST names)', () => {
      const dir = join(tmp, 'emnist-like');
      mkdirSync(dir);
      writeFileSync(join(dir, 'emnist-digits-train-images-idx3-ubyte.gz'), encodeIdx(TINY_IMAGES, { gzip: true }));
      writeFileSync(join(dir, 'emnist-digits-train-labels-idx1-ubyte.gz'), encodeIdx(TINY_LABELS, { gzip: true }));
      writeFileSync(join(dir, 'emnist-digits-test-images-idx3-ubyte.gz'), encodeIdx(TINY_IMAGES, { gzip: true }));
      writeFileSync(join(dir, 'emnist-digits-test-labels-idx1-ubyte.gz'), encodeIdx(TINY_LABELS, { gzip: true }));
      expect(findIdxFiles(dir).testImages).to.equal(join(dir, 'emnist-digits-test-images-idx3-ubyte.gz'));
      const split = loadDataset('emnist', { dir });
      expect([split.train.height, split.train.width]).to.deep.equal([3, 2]); // transposed by default for EMNIST
      writeFileSync(join(dir, 'emnist-letters-train-images-idx3-ubyte.gz'), encodeIdx(TINY_IMAGES, { gzip: true }));
      expectDataError(() => findIdxFiles(dir), 'config', /several datasets.*'emnist-digits-', 'emnist-letters-'.*opts\.prefix/);
      expect(findIdxFiles(dir, { prefix: 'emnist-digits-' }).trainLabels).to.match(/emnist-digits-train-labels/);
    });

    it('names the directory and the missing file, and catches image/label count mismatches', () => {
      const dir = join(tmp, 'incomplete');
      mkdirSync(dir);
      writeFileSync(join(dir, 'train-images-idx3-ubyte'), encodeIdx(TINY_IMAGES));
      writeFileSync(join(dir, 'train-labels-idx1-ubyte'), encodeIdx({ dtype: 'uint8', dims: [2], data: Uint8Array.of(1, 2) }));
      expectDataError(() => loadIdxDataset(dir), 'dataset-missing', new RegExp(`${dir}.*t10k-images-idx3-ubyte`));
      expectDataError(() => loadIdxDataset(join(tmp, 'no-such-dir')), 'dataset-missing', /no-such-dir does not exist/);
      writeFileSync(join(dir, 't10k-images-idx3-ubyte'), encodeIdx(TINY_IMAGES));
      writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), encodeIdx(TINY_LABELS));
      expectDataError(() => loadIdxDataset(dir), 'dataset-format', /dimension mismatch: .*train-images-idx3-ubyte has 3 images but .*train-labels-idx1-ubyte has 2 labels/);
    });
  });

  describe('embedded MNIST', () => {
    const EXPECTED_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];

    // The load time is printed, not asserted: a wall-clock bar fails on a loaded machine (bench/ measures speed).
    it('parses all 10,000 digits with the known per-digit counts', () => {
      const t0 = performance.now();
      const all = loadEmbeddedMnistAll();
      const split = loadEmbeddedMnist();
      const ms = performance.now() - t0;
      console.log(`      (mnist-embedded loaded and split in ${ms.toFixed(0)} ms)`);
      expect(all).to.include({ name: 'mnist-embedded', count: 10_000, height: 28, width: 28, channels: 1, numClasses: 10 });
      expect(classCounts(all.labels, 10)).to.deep.equal(EXPECTED_COUNTS);
      validateDataset(all, { checkPixels: true });
      expect(split.train.count + split.test.count).to.equal(10_000);
    });

    it('splits 8,000 / 2,000, stratified by class', () => {
      const { train, test } = loadEmbeddedMnist();
      expect([train.count, test.count]).to.deep.equal([8000, 2000]);
      const testCounts = classCounts(test.labels, 10);
      testCounts.forEach((c, k) => expect(Math.abs(c - 0.2 * EXPECTED_COUNTS[k]!)).to.be.lessThan(1));
      classCounts(train.labels, 10).forEach((c, k) => expect(c + testCounts[k]!).to.equal(EXPECTED_COUNTS[k]));
    });

    it('train and test together are exactly the 10,000 digits', () => {
      const all = loadEmbeddedMnistAll();
      const { train, test } = loadEmbeddedMnist();
      const multiset = new Map<string, number>();
      for (let i = 0; i < all.count; i++) {
        const k = imageKey(all, i) + all.labels[i];
        multiset.set(k, (multiset.get(k) ?? 0) + 1);
      }
      for (const ds of [train, test]) {
        for (let i = 0; i < ds.count; i++) {
          const k = imageKey(ds, i) + ds.labels[i];
          const left = multiset.get(k);
          expect(left, `example ${i} of ${ds.count}`).to.be.greaterThan(0);
          multiset.set(k, left! - 1);
        }
      }
    });

    it('is deterministic per seed and differs across seeds; other fractions work', () => {
      const a = loadEmbeddedMnist({ seed: 2020 });
      expect(hashDataset(a.train)).to.equal(hashDataset(loadEmbeddedMnist().train));
      const b = loadEmbeddedMnist({ seed: 7 });
      expect(hashDataset(b.test)).to.not.equal(hashDataset(a.test));
      const c = loadEmbeddedMnist({ testFraction: 0.5, seed: 7 });
      expect([c.train.count, c.test.count]).to.deep.equal([5000, 5000]);
      expectDataError(() => loadEmbeddedMnist({ testFraction: 1 }), 'config', /testFraction .* got 1/);
    });
  });

  describe('named datasets', () => {
    it('fashion-mnist loads 60,000 / 10,000 28×28×1 images with labels 0..9', function () {
      if (!existsSync(DEFAULT_FASHION_MNIST_DIR)) {
        console.log(`      (skipped: ${DEFAULT_FASHION_MNIST_DIR} absent; sudo apt-get install dataset-fashion-mnist)`);
        this.skip();
      }
      const t0 = performance.now();
      const { train, test } = loadDataset('fashion-mnist', { cache: false });
      console.log(`      (fashion-mnist loaded in ${(performance.now() - t0).toFixed(0)} ms)`);
      for (const [ds, n] of [
        [train, 60_000],
        [test, 10_000],
      ] as const) {
        expect(ds).to.include({ name: 'fashion-mnist', count: n, height: 28, width: 28, channels: 1, numClasses: 10 });
        validateDataset(ds);
        expect(classCounts(ds.labels, 10)).to.deep.equal(new Array(10).fill(n / 10));
      }
      let max = 0;
      for (let i = 0; i < 784 * 100; i++) max = Math.max(max, train.images[i]!);
      expect(max).to.equal(1);
    });

    it('fashion-mnist from a directory without the files says how to install it', () => {
      const empty = join(tmp, 'empty');
      mkdirSync(empty);
      expectDataError(() => loadDataset('fashion-mnist', { dir: empty }), 'dataset-missing', /sudo apt-get install dataset-fashion-mnist.*opts\.dir/);
    });

    it("'mnist', 'emnist' and unknown names need opts.dir", () => {
      for (const name of ['mnist', 'emnist', 'kmnist']) {
        expectDataError(() => loadDataset(name), 'dataset-missing', new RegExp(`'${name}' needs opts\\.dir`));
      }
    });

    it("'synthetic' and 'mnist-embedded' load by name", () => {
      const syn = loadDataset('synthetic', { seed: 1, synthetic: { count: 50, testCount: 10 } });
      expect([syn.train.count, syn.test.count]).to.deep.equal([50, 10]);
      expect(loadDataset('mnist-embedded').train.count).to.equal(8000);
    });
  });

  describe('synthetic', () => {
    it('is deterministic per seed, in [0, 1], balanced, and shaped as asked', () => {
      const a = makeSyntheticDataset({ count: 200, seed: 3 });
      const b = makeSyntheticDataset({ count: 200, seed: 3 });
      const c = makeSyntheticDataset({ count: 200, seed: 4 });
      expect(hashDataset(a.train)).to.equal(hashDataset(b.train));
      expect(hashDataset(a.test)).to.equal(hashDataset(b.test));
      expect(hashDataset(a.train)).to.not.equal(hashDataset(c.train));
      expect(a.train).to.include({ count: 200, height: 28, width: 28, channels: 1, numClasses: 10, name: 'synthetic' });
      expect(a.test.count).to.equal(40);
      validateDataset(a.train, { checkPixels: true });
      expect(classCounts(a.train.labels, 10)).to.deep.equal(new Array(10).fill(20));
      const small = makeSyntheticDataset({ count: 30, testCount: 0, height: 8, width: 6, channels: 3, numClasses: 3, seed: 'x' });
      expect(small.train).to.include({ height: 8, width: 6, channels: 3, numClasses: 3 });
      expect(small.train.images.length).to.equal(30 * 8 * 6 * 3);
      expect(small.test.count).to.equal(0);
      expectDataError(() => makeSyntheticDataset({ count: 0, seed: 1 }), 'config', /synthetic\.count .* got 0/);
    });

    it('is learnable: nearest class mean on train classifies the test set', () => {
      const { train, test } = makeSyntheticDataset({ count: 500, testCount: 200, seed: 5, noise: 0.3 });
      const size = 28 * 28;
      const means = Array.from({ length: 10 }, () => new Float64Array(size));
      const counts = classCounts(train.labels, 10);
      for (let i = 0; i < train.count; i++) {
        const m = means[train.labels[i]!]!;
        for (let p = 0; p < size; p++) m[p]! += train.images[i * size + p]! / counts[train.labels[i]!]!;
      }
      let correct = 0;
      for (let i = 0; i < test.count; i++) {
        let best = -1;
        let bestDist = Infinity;
        means.forEach((m, k) => {
          let d = 0;
          for (let p = 0; p < size; p++) d += (test.images[i * size + p]! - m[p]!) ** 2;
          if (d < bestDist) [best, bestDist] = [k, d];
        });
        if (best === test.labels[i]) correct++;
      }
      expect(correct / test.count).to.be.greaterThan(0.95);
    });
  });

  describe('helpers', () => {
    const ds = makeSyntheticDataset({ count: 20, testCount: 0, height: 4, width: 4, seed: 9 }).train;

    it('subset copies the chosen examples in order and validates indices', () => {
      const sub = subset(ds, [5, 0, 5]);
      expect(sub.count).to.equal(3);
      expect(Array.from(sub.labels)).to.deep.equal([ds.labels[5], ds.labels[0], ds.labels[5]]);
      expect(Array.from(sub.images.subarray(0, 16))).to.deep.equal(Array.from(ds.images.subarray(80, 96)));
      sub.images[0] = 0.123;
      expect(ds.images[80]).to.not.equal(0.123);
      expectDataError(() => subset(ds, [20]), 'config', /indices\[0\].*got 20/);
    });

    it('hashDataset covers shape, labels and pixels but not the name', () => {
      const h = hashDataset(ds);
      expect(h).to.match(/^[0-9a-f]{64}$/);
      expect(hashDataset({ ...ds, name: 'other' })).to.equal(h);
      const labels = ds.labels.slice();
      labels[0] = (labels[0]! + 1) % 10;
      expect(hashDataset({ ...ds, labels })).to.not.equal(h);
      const images = ds.images.slice();
      images[7] = images[7]! + 1e-6;
      expect(hashDataset({ ...ds, images })).to.not.equal(h);
      expect(hashDataset({ ...ds, height: 2, width: 8 })).to.not.equal(h);
    });

    it('toShared/sharedHandle/datasetFromShared round-trip without changing the data', () => {
      expect(isShared(ds)).to.equal(false);
      const shared = toShared(ds);
      expect(isShared(shared)).to.equal(true);
      expect(toShared(shared)).to.equal(shared);
      expect(hashDataset(shared)).to.equal(hashDataset(ds));
      const back = datasetFromShared(sharedHandle(shared));
      expect(back.images.buffer).to.equal(shared.images.buffer);
      expect(hashDataset(back)).to.equal(hashDataset(ds));
      expectDataError(() => datasetFromShared({ ...sharedHandle(shared), count: 21 }), 'dataset-format', /images must be a Float32Array of .* 336/);
    });

    it('a shared dataset posted to a worker thread shares memory instead of copying', async () => {
      const shared = toShared(ds);
      const worker = new Worker(
        `const { parentPort } = require('node:worker_threads');
         parentPort.once('message', (d) => { d.images[0] = 0.5; d.labels[0] = 9; parentPort.postMessage('done'); });`,
        { eval: true },
      );
      try {
        await new Promise<void>((resolve, reject) => {
          worker.once('message', () => resolve());
          worker.once('error', reject);
          worker.postMessage(shared);
        });
      } finally {
        await worker.terminate();
      }
      expect(shared.images[0]).to.equal(0.5);
      expect(shared.labels[0]).to.equal(9);
    });

    it('validateDataset names the bad field and value', () => {
      expectDataError(() => validateDataset({ ...ds, labels: ds.labels.subarray(0, 19) }), 'dataset-format', /labels must be a Uint8Array of count = 20 values, got 19/);
      expectDataError(() => validateDataset({ ...ds, count: 19 }), 'dataset-format', /images must be a Float32Array of .* = 304 values, got 320/);
      const labels = ds.labels.slice();
      labels[3] = 10;
      expectDataError(() => validateDataset({ ...ds, labels }), 'dataset-format', /labels\[3\] must be < numClasses \(10\), got 10/);
      const images = ds.images.slice();
      images[2] = 1.5;
      expectDataError(() => validateDataset({ ...ds, images }, { checkPixels: true }), 'dataset-format', /images\[2\].*got 1\.5/);
    });
  });
});

describe("IDX training pair only (an edge client's data)", function () {
  it('loads train-images/train-labels without test files, and names the missing file otherwise', function () {
    const dir = mkdtempSync(join(tmpdir(), 'rfl-trainonly-'));
    const images: IdxArray = { dtype: 'uint8', dims: [3, 2, 2], data: Uint8Array.from({ length: 12 }, (_, i) => i * 20) };
    const labels: IdxArray = { dtype: 'uint8', dims: [3], data: Uint8Array.from([0, 1, 2]) };
    writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), encodeIdx(images, { gzip: true }));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), encodeIdx(labels));
    const ds = loadIdxTrainOnly(dir);
    expect(ds.count).to.equal(3);
    expect(ds.numClasses).to.equal(10);
    expect(ds.images[1]).to.be.closeTo(20 / 255, 1e-7);
    expectDataError(() => loadIdxTrainOnly(tmpdir() + '/does-not-exist-rfl'), 'dataset-missing', /train-images-idx3-ubyte/);
  });
});

describe('an IDX folder as rfl simulate --data DIR (the real binary)', function () {
  this.timeout(240000);

  it('trains on the folder: a tiny scenario file, --data pointing at four IDX files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rfl-idx-data-'));
    // 60 train and 20 test images of 28×28, ten classes: class k is a bright band at rows 2k..2k+2, so a model can
    // learn it; the test images are the first 20 train images (labels 0..9 twice).
    const make = (count: number): { images: IdxArray; labels: IdxArray } => {
      const pixels = new Uint8Array(count * 28 * 28);
      const labels = new Uint8Array(count);
      for (let i = 0; i < count; i++) {
        labels[i] = i % 10;
        for (let r = 2 * (i % 10); r < 2 * (i % 10) + 3; r++) for (let c = 0; c < 28; c++) pixels[i * 784 + r * 28 + c] = 200 + (i % 7);
      }
      return { images: { dtype: 'uint8', dims: [count, 28, 28], data: pixels }, labels: { dtype: 'uint8', dims: [count], data: labels } };
    };
    const idx = join(dir, 'digits');
    mkdirSync(idx);
    const train = make(60);
    const test = make(20);
    writeFileSync(join(idx, 'train-images-idx3-ubyte'), encodeIdx(train.images));
    writeFileSync(join(idx, 'train-labels-idx1-ubyte.gz'), encodeIdx(train.labels, { gzip: true }));
    writeFileSync(join(idx, 't10k-images-idx3-ubyte.gz'), encodeIdx(test.images, { gzip: true }));
    writeFileSync(join(idx, 't10k-labels-idx1-ubyte'), encodeIdx(test.labels));
    const scenario = join(dir, 'tiny.yaml');
    writeFileSync(
      scenario,
      [
        'name: tiny-idx',
        'method: fedavg',
        'model: mlp',
        'secure: false',
        'numClients: 3',
        'fraction: 1',
        'rounds: 2',
        'localEpochs: 1',
        'sharedSetSize: 6',
        'evalSubset: 1000',
        'evalAttacks: [clean]',
        'finalAttacks: [clean]',
        'workers: 1',
      ].join('\n') + '\n',
    );
    const out = join(dir, 'run');
    const r = spawnSync(process.execPath, [resolve('dist/cli/rfl.js'), 'simulate', '--config', scenario, '--data', idx, '--no-progress', '--out', out], {
      encoding: 'utf8',
      timeout: 200000,
      env: { ...process.env, RFL_BACKEND: 'wasm' },
    });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.include(`scenario tiny-idx: fedavg on mlp with ${idx}, 3 clients, 3 per round, 2 rounds, plaintext (mean)`);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { completedRounds: number; clients: number; final: { accuracy: { clean: number }; evaluated: number } };
    expect(results.completedRounds).to.equal(2);
    expect(results.clients).to.equal(3);
    // The folder's 20 test images were evaluated, all of them: the embedded digits would have given 1,000 of 2,000.
    expect(results.final.evaluated).to.equal(20);
    expect(results.final.accuracy.clean).to.be.within(0, 1);
    const written = JSON.parse(readFileSync(join(out, 'scenario.json'), 'utf8')) as { dataset: string };
    expect(written.dataset).to.equal(idx);
    // Every client of the folder's partition trained in both rounds.
    const rounds = readFileSync(join(out, 'rounds.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { trained: number; status: string });
    expect(rounds.map((x) => [x.status, x.trained])).to.deep.equal([
      ['completed', 3],
      ['completed', 3],
    ]);
    rmSync(dir, { recursive: true, force: true });
  });
});
