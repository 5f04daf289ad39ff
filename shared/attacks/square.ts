/**
 * Square attack, L∞ (Andriushchenko, Croce, Flammarion, Hein, "Square Attack: a query-efficient black-box
 * adversarial attack via random search", ECCV 2020, arXiv 1912.00049), Algorithm 1 and §3.1, written from the paper.
 * Score-based: it reads only the logits and minimises the margin z_y − max_{j≠y} z_j; a row is broken once its
 * margin is negative and is not queried again.
 *
 * - Start: vertical stripes, each column of each channel shifted by ±ε (a uniform sign), clipped to [0, 1].
 * - Each iteration, per unbroken row: a square window of side s = max(round(√(p·h·w)), 1) (at most h − 1) at a
 *   uniform position gets a fresh uniform ±ε per channel over the whole window (redrawn while it would leave the
 *   window unchanged); the candidate replaces the current point if its margin is lower.
 * - p follows the paper's schedule: p_init until iteration 10, then halved at iterations 10, 50, 200, 500, 1000,
 *   2000, 4000, 6000 and 8000, with iterations rescaled to a 10,000-query budget (i ↦ ⌊i·10000/N⌋).
 *
 * Queries: the start counts one per row, each iteration one more; a row spends at most `queries`. Seeded.
 */
import * as tf from '@tensorflow/tfjs';
import type { Model } from '../models/model.js';
import { Rng } from '../util/random.js';
import { marginOf } from './margin-losses.js';
import { PIXEL_MAX, PIXEL_MIN } from './pgd.js';

/** Square attack options. */
export interface SquareOptions {
  /** Radius of the L∞ ball, pixel units, in [0, 1]. */
  eps: number;
  /** Query budget per example (≥ 1); 5000 in AutoAttack. */
  queries: number;
  /** p_init, the initial fraction of pixels a square covers, (0, 1]; 0.8 in AutoAttack. */
  pInit: number;
  /** Seed of the stripes, windows and signs. */
  seed?: number;
}

/** Checks Square options, naming the bad field. */
export function checkSquareOptions(o: SquareOptions): void {
  if (!(o.eps >= 0 && o.eps <= 1)) throw new Error(`Square: eps = ${o.eps}; expected a number in [0, 1]`);
  if (!Number.isInteger(o.queries) || o.queries < 1) throw new Error(`Square: queries = ${o.queries}; expected an integer ≥ 1`);
  if (!(o.pInit > 0 && o.pInit <= 1)) throw new Error(`Square: pInit = ${o.pInit}; expected a number in (0, 1]`);
}

/** p at iteration `it` of an `n`-iteration run (the paper's piecewise-constant schedule, rescaled to 10,000). */
export function squareP(pInit: number, it: number, n: number): number {
  const i = Math.floor((it / n) * 10000);
  const halvings = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000].filter((t) => i > t).length;
  return pInit / 2 ** halvings;
}

const clip = (v: number): number => (v < PIXEL_MIN ? PIXEL_MIN : v > PIXEL_MAX ? PIXEL_MAX : v);

/** Square attack on a batch: the adversarial batch (owned by the caller), the rows broken and the queries each used. */
export function square(model: Model, x: tf.Tensor4D, labels: ArrayLike<number>, o: SquareOptions): { adv: tf.Tensor4D; fooled: Uint8Array; queries: Int32Array } {
  checkSquareOptions(o);
  const [n, h, w, c] = x.shape;
  const d = h * w * c;
  const xs = x.dataSync() as Float32Array;
  const rng = new Rng(o.seed ?? 0).fork('square');
  const cur = new Float32Array(xs.length);
  for (let i = 0; i < n; i++)
    for (let col = 0; col < w; col++)
      for (let ch = 0; ch < c; ch++) {
        const v = rng.float() < 0.5 ? -o.eps : o.eps;
        for (let row = 0; row < h; row++) {
          const k = i * d + (row * w + col) * c + ch;
          cur[k] = clip(xs[k]! + v);
        }
      }
  const start = tf.tensor4d(cur, x.shape);
  const m0 = marginOf(model, start, labels);
  start.dispose();
  const margin = m0.margin;
  const used = new Int32Array(n).fill(1);
  const fooled = Uint8Array.from(margin, (m) => (m < 0 ? 1 : 0));
  const cand = new Float32Array(d);
  for (let it = 0; it < o.queries - 1; it++) {
    const active: number[] = [];
    for (let i = 0; i < n; i++) if (fooled[i] === 0) active.push(i);
    if (active.length === 0) break;
    const s = Math.min(Math.max(Math.round(Math.sqrt(squareP(o.pInit, it, o.queries) * h * w)), 1), h - 1, w - 1);
    const batch = new Float32Array(active.length * d);
    const batchLabels = new Uint8Array(active.length);
    active.forEach((i, a) => {
      cand.set(cur.subarray(i * d, i * d + d));
      const r0 = rng.int(h - s + 1);
      const c0 = rng.int(w - s + 1);
      for (let ch = 0; ch < c; ch++) {
        // A draw that leaves the whole window as it is wastes a query: redraw (a few times at most: only the sign can change).
        for (let tries = 0; tries < 8; tries++) {
          const v = rng.float() < 0.5 ? -o.eps : o.eps;
          let changed = false;
          for (let row = r0; row < r0 + s; row++)
            for (let col = c0; col < c0 + s; col++) {
              const k = (row * w + col) * c + ch;
              const nv = clip(xs[i * d + k]! + v);
              if (Math.abs(nv - cur[i * d + k]!) > 1e-7) changed = true;
              cand[k] = nv;
            }
          if (changed) break;
        }
      }
      batch.set(cand, a * d);
      batchLabels[a] = labels[i]!;
    });
    const t = tf.tensor4d(batch, [active.length, h, w, c]);
    const m = marginOf(model, t, batchLabels).margin;
    t.dispose();
    active.forEach((i, a) => {
      used[i] = used[i]! + 1;
      if (m[a]! < margin[i]!) {
        margin[i] = m[a]!;
        cur.set(batch.subarray(a * d, a * d + d), i * d);
        if (m[a]! < 0) fooled[i] = 1;
      }
    });
  }
  return { adv: tf.tensor4d(cur, x.shape), fooled, queries: used };
}
