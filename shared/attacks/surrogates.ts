/**
 * The black-box surrogates A–D (docs/spec/decent-bva.md §8), trained by the evaluation itself on held-out data and
 * cached on disk, keyed by (dataset, surrogate, seed, epochs).
 *
 * Held-out data: the clients and the shared set use the whole training set (partitioners hand out every example
 * but a remainder), so the surrogates train on the second half of the *test* set, rows [⌊T/2⌋, T); a transfer
 * evaluation refuses to score those rows (evaluate on the first ⌊T/2⌋ test images, e.g. with `evalSubset`).
 *
 * Training: plain cross-entropy, SGD lr 0.01, momentum 0.9, batch 64, shuffled (the §8 recipe), for `epochs` epochs
 * from the seeded initial weights. Where that diverges (a non-finite epoch loss or weights: surrogate B, a deep net
 * without activations, does on Fashion-MNIST), it is trained again from the same initial weights at half the
 * learning rate, up to `SURROGATE_LR_HALVINGS` times, and the log line says which rate it took; the procedure is
 * deterministic, so the cache key needs no rate. The dataset part of the key is a SHA-256 of the held-out rows (images and
 * labels), so two datasets never share a file. The cache directory is `RFL_SURROGATE_DIR`, else
 * `~/.cache/robust-fl/surrogates`; each file is written to a temporary name and renamed.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initialWeights, Model, modelSpec } from '../models/model.js';
import { accuracy } from '../train/evaluate.js';
import type { ImageSource } from '../train/batches.js';
import { trainLocal } from '../train/sgd.js';

/** The training recipe of the surrogates (decent-bva.md §8). */
export const SURROGATE_TRAINING = { batchSize: 64, lr: 0.01, momentum: 0.9 } as const;

/** How many times a diverged surrogate is retrained at half the previous learning rate before giving up. */
export const SURROGATE_LR_HALVINGS = 4;

/** First test row held out for the surrogates: rows [heldOutStart(T), T) train them. */
export function heldOutStart(count: number): number {
  return Math.floor(count / 2);
}

/** The held-out rows of a test set of `count` rows. */
export function heldOutRows(count: number): Int32Array {
  const s = heldOutStart(count);
  return Int32Array.from({ length: count - s }, (_, i) => s + i);
}

/** Throws unless every evaluated row lies before the held-out part of the test set. */
export function checkDisjointFromHeldOut(indices: ArrayLike<number>, count: number): void {
  const s = heldOutStart(count);
  for (let i = 0; i < indices.length; i++)
    if (indices[i]! >= s)
      throw new Error(
        `transfer: test row ${indices[i]} is in the surrogates' training rows [${s}, ${count}) (the second half of the test set); evaluate on the first ${s} test images (evalSubset ≤ ${s})`,
      );
}

/** The directory of cached surrogate weights. */
export function surrogateDir(): string {
  return process.env['RFL_SURROGATE_DIR'] ?? path.join(os.homedir(), '.cache', 'robust-fl', 'surrogates');
}

/** What identifies a trained surrogate. */
export interface SurrogateKey {
  surrogate: string;
  seed: number;
  epochs: number;
}

/** SHA-256 (first 16 hex digits) of the held-out rows of `data`. */
export function heldOutHash(data: ImageSource): string {
  const d = data.height * data.width * data.channels;
  const s = heldOutStart(data.labels.length);
  const h = createHash('sha256');
  h.update(`${data.height}x${data.width}x${data.channels}/${data.numClasses}/`);
  h.update(new Uint8Array(data.images.buffer, data.images.byteOffset + s * d * 4, (data.labels.length - s) * d * 4));
  h.update(data.labels.subarray(s));
  return h.digest('hex').slice(0, 16);
}

/** The cache file of a surrogate. */
export function surrogateFile(data: ImageSource, k: SurrogateKey): string {
  const name = 'name' in data && typeof data.name === 'string' ? data.name.replace(/[^A-Za-z0-9._-]/g, '_') : 'data';
  return path.join(surrogateDir(), `${name}-${heldOutHash(data)}-${k.surrogate}-seed${k.seed}-e${k.epochs}.f32`);
}

/** Weights already loaded in this process, by cache file. */
const memo = new Map<string, Float32Array>();

/** What `surrogateWeights` did: loaded from memory or disk, or trained (with its held-out training accuracy). */
export interface SurrogateInfo {
  file: string;
  source: 'memory' | 'disk' | 'trained';
  trainAccuracy?: number;
  /** The learning rate the trained weights came from (lower than the recipe's where it diverged). */
  lr?: number;
  ms: number;
}

/** The weights of a surrogate: from this process, from the disk cache, or trained now and cached. */
export function surrogateWeights(data: ImageSource, k: SurrogateKey, onInfo?: (i: SurrogateInfo) => void): Float32Array {
  const t0 = performance.now();
  const file = surrogateFile(data, k);
  const spec = modelSpec(k.surrogate, [data.height, data.width, data.channels], data.numClasses);
  const have = memo.get(file);
  if (have !== undefined) {
    onInfo?.({ file, source: 'memory', ms: performance.now() - t0 });
    return have;
  }
  if (existsSync(file)) {
    const buf = readFileSync(file);
    const w = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    if (w.length === spec.numParams) {
      memo.set(file, w);
      onInfo?.({ file, source: 'disk', ms: performance.now() - t0 });
      return w;
    }
  }
  if (!Number.isInteger(k.epochs) || k.epochs < 1) throw new Error(`transfer: epochs = ${k.epochs}; expected an integer ≥ 1`);
  const initial = initialWeights(spec, k.seed);
  const model = new Model(spec, initial);
  try {
    const rows = heldOutRows(data.labels.length);
    let lr: number = SURROGATE_TRAINING.lr;
    let w: Float32Array;
    for (let halvings = 0; ; halvings++) {
      let diverged = false;
      trainLocal(model, data, rows, { ...SURROGATE_TRAINING, lr, epochs: k.epochs, seed: k.seed }, (_e, loss) => (diverged = !Number.isFinite(loss)));
      w = model.getWeights();
      if (!diverged && w.every(Number.isFinite)) break;
      if (halvings === SURROGATE_LR_HALVINGS)
        throw new Error(`transfer: surrogate ${k.surrogate} diverged at every learning rate from ${SURROGATE_TRAINING.lr} down to ${lr} (non-finite loss or weights)`);
      lr /= 2;
      model.setWeights(initial);
    }
    const trainAccuracy = accuracy(model, data, rows);
    mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    writeFileSync(tmp, new Uint8Array(w.buffer, w.byteOffset, w.byteLength));
    renameSync(tmp, file);
    memo.set(file, w);
    onInfo?.({ file, source: 'trained', trainAccuracy, lr, ms: performance.now() - t0 });
    return w;
  } finally {
    model.dispose();
  }
}

/** A surrogate model (dispose it when done). */
export function surrogateModel(data: ImageSource, k: SurrogateKey): Model {
  return new Model(modelSpec(k.surrogate, [data.height, data.width, data.channels], data.numClasses), surrogateWeights(data, k));
}

/**
 * Before an evaluation that lists transfer attacks: refuses evaluation rows that overlap the held-out rows, and
 * trains (or loads) every surrogate in this thread, so that worker threads find them on disk. `log` gets one line
 * per surrogate.
 */
export function prepareSurrogates(specs: readonly { surrogates: readonly string[]; surrogateSeed: number; epochs: number }[], data: ImageSource, evalCount: number, log: (line: string) => void): void {
  if (specs.length === 0) return;
  checkDisjointFromHeldOut([evalCount - 1], data.labels.length);
  const seen = new Set<string>();
  for (const s of specs)
    for (const surrogate of s.surrogates) {
      const k = { surrogate, seed: s.surrogateSeed, epochs: s.epochs };
      const key = JSON.stringify(k);
      if (seen.has(key)) continue;
      seen.add(key);
      surrogateWeights(data, k, (i) =>
        log(
          `transfer surrogate ${surrogate} (seed ${k.seed}, ${k.epochs} epochs): ${i.source === 'trained' ? `trained on test rows [${heldOutStart(data.labels.length)}, ${data.labels.length}) in ${(i.ms / 1000).toFixed(1)} s, training accuracy ${(100 * i.trainAccuracy!).toFixed(2)} %${i.lr !== undefined && i.lr !== SURROGATE_TRAINING.lr ? ` at learning rate ${i.lr} (the recipe's ${SURROGATE_TRAINING.lr} diverged)` : ''}` : `loaded from ${i.source}`} (${i.file})`,
        ),
      );
    }
}

/** Forgets the weights loaded in this process (the disk cache stays); for tests. */
export function clearSurrogateMemo(): void {
  memo.clear();
}
