/**
 * FAB-T, the targeted Fast Adaptive Boundary attack under L∞ (Croce & Hein, "Minimally distorted adversarial
 * examples with a fast adaptive boundary attack", ICML 2020, arXiv 1907.02044, Algorithm 1), written from the paper.
 * A minimum-norm attack: each iteration linearises the boundary between the true class y and the target t at the
 * current point x^(i), f(z) ≈ f(x^(i)) + ∇f(x^(i))ᵀ(z − x^(i)) with f = z_t − z_y, and projects onto it both x^(i)
 * (step δ) and the original point x (step δ_orig), each the L∞-smallest step that reaches the hyperplane inside the
 * box [0, 1] (or the box's corner in the hyperplane's direction when none does):
 *
 *   α = min(‖δ‖∞ / (‖δ‖∞ + ‖δ_orig‖∞), α_max),
 *   x^(i+1) = clip_[0,1]((1 − α)(x^(i) + η·δ) + α(x + η·δ_orig)),
 *
 * and once x^(i+1) is misclassified it is kept if closer to x than the best so far and pulled back,
 * x^(i+1) ← (1 − β)·x + β·x^(i+1). An example counts as broken when the closest misclassified point found lies within
 * ε of x. As in AutoAttack, the run starts at x, repeats for the top `targets` classes by clean logit other than y,
 * and keeps for each row the first target that breaks it.
 */
import * as tf from '@tensorflow/tfjs';
import type { Model } from '../models/model.js';
import { targetRanking } from './apgd.js';
import { lossGradient } from './margin-losses.js';

/** FAB-T options (L∞, pixel units on [0, 1]). */
export interface FabOptions {
  /** Radius within which a found example counts, pixel units, in [0, 1]. */
  eps: number;
  /** Iterations per target (≥ 1); 100 in AutoAttack. */
  steps: number;
  /** Target classes per example (the top ones by clean logit, true class excluded); 9 in AutoAttack. */
  targets: number;
  /** α_max, the largest weight of the step from the original point, in [0, 1]; 0.1 in AutoAttack (L∞). */
  alphaMax: number;
  /** η ≥ 1, the overshoot of each projection; 1.05 in AutoAttack. */
  eta: number;
  /** β in (0, 1), the backward step towards x after a success; 0.9 in AutoAttack. */
  beta: number;
  /** Unused (FAB-T here starts at x and draws nothing); kept so every suite component takes a seed. */
  seed?: number;
}

/** Checks FAB options, naming the bad field. */
export function checkFabOptions(o: FabOptions): void {
  if (!(o.eps >= 0 && o.eps <= 1)) throw new Error(`FAB: eps = ${o.eps}; expected a number in [0, 1]`);
  if (!Number.isInteger(o.steps) || o.steps < 1) throw new Error(`FAB: steps = ${o.steps}; expected an integer ≥ 1`);
  if (!Number.isInteger(o.targets) || o.targets < 1) throw new Error(`FAB: targets = ${o.targets}; expected an integer ≥ 1`);
  if (!(o.alphaMax >= 0 && o.alphaMax <= 1)) throw new Error(`FAB: alphaMax = ${o.alphaMax}; expected a number in [0, 1]`);
  if (!(o.eta >= 1 && Number.isFinite(o.eta))) throw new Error(`FAB: eta = ${o.eta}; expected a finite number ≥ 1`);
  if (!(o.beta > 0 && o.beta < 1)) throw new Error(`FAB: beta = ${o.beta}; expected a number in (0, 1)`);
}

/** Scratch buffers of `projectLinf` (grown on demand). */
let roomBuf = new Float64Array(0);
let weightBuf = new Float64Array(0);

/**
 * The L∞-smallest δ with wᵀδ = −b and x + δ in [0, 1] (written into `out`, which it returns with ‖δ‖∞). Each pixel
 * moves by min(t, room) in the direction sign(w_i)·sign(−b); t solves h(t) = Σ|w_i|·min(t, room_i) = |b|, h being
 * increasing, concave and piecewise linear, so Newton's method from 0 reaches t exactly.
 * When even the whole box cannot reach the hyperplane, every pixel moves to the box's edge in that direction.
 */
export function projectLinf(x: Float32Array, xo: number, w: Float32Array, wo: number, d: number, b: number, out: Float32Array): number {
  out.fill(0);
  if (b === 0) return 0;
  if (roomBuf.length < d) {
    roomBuf = new Float64Array(d);
    weightBuf = new Float64Array(d);
  }
  const dir = b > 0 ? -1 : 1;
  const target = Math.abs(b);
  let reach = 0;
  let maxRoom = 0;
  for (let i = 0; i < d; i++) {
    const wi = w[wo + i]!;
    const s = wi > 0 ? dir : wi < 0 ? -dir : 0;
    const room = s === 0 ? 0 : s > 0 ? 1 - x[xo + i]! : x[xo + i]!;
    roomBuf[i] = room;
    weightBuf[i] = Math.abs(wi);
    reach += Math.abs(wi) * room;
    if (s !== 0 && room > maxRoom) maxRoom = room;
  }
  let t = maxRoom;
  if (reach > target) {
    // Newton from t = 0 on the concave, increasing, piecewise-linear h: every tangent lies above h, so the iterates
    // rise monotonically to the root without overshooting, and each step lands on it or passes a breakpoint.
    t = 0;
    for (let k = 0; k <= d; k++) {
      let value = 0;
      let slope = 0;
      for (let i = 0; i < d; i++) {
        const r = roomBuf[i]!;
        if (r > t) {
          slope += weightBuf[i]!;
          value += weightBuf[i]! * t;
        } else value += weightBuf[i]! * r;
      }
      if (slope === 0 || value >= target * (1 - 1e-12)) break;
      t = Math.min(t + (target - value) / slope, maxRoom);
    }
  }
  let norm = 0;
  for (let i = 0; i < d; i++) {
    const wi = w[wo + i]!;
    if (wi === 0) continue;
    const m = Math.min(t, roomBuf[i]!);
    out[i] = (wi > 0 ? dir : -dir) * m;
    if (m > norm) norm = m;
  }
  return norm;
}

/** One FAB run towards fixed per-row targets; returns the closest misclassified point per row and its L∞ distance. */
function fabRun(model: Model, x: tf.Tensor4D, labels: ArrayLike<number>, targets: ArrayLike<number>, o: FabOptions): { best: Float32Array; dist: Float64Array } {
  const [n, h, w, c] = x.shape;
  const d = h * w * c;
  const xs = x.dataSync() as Float32Array;
  const cur = xs.slice();
  const best = xs.slice();
  const dist = new Float64Array(n).fill(Infinity);
  const delta = new Float32Array(d);
  const deltaOrig = new Float32Array(d);
  const distance = (a: Float32Array, i: number): number => {
    let m = 0;
    for (let k = 0; k < d; k++) m = Math.max(m, Math.abs(a[i * d + k]! - xs[i * d + k]!));
    return m;
  };
  for (let it = 0; it < o.steps; it++) {
    let t = tf.tensor4d(cur, x.shape);
    let r = lossGradient(model, t, labels, 'logit-diff', targets);
    // Misclassified points: keep the closest, then step back towards x (and linearise there instead).
    let back = false;
    for (let i = 0; i < n; i++) {
      if (r.pred[i] === labels[i]) continue;
      const dd = distance(cur, i);
      if (dd < dist[i]!) {
        dist[i] = dd;
        best.set(cur.subarray(i * d, i * d + d), i * d);
      }
      for (let k = i * d; k < i * d + d; k++) cur[k] = (1 - o.beta) * xs[k]! + o.beta * cur[k]!;
      back = true;
    }
    if (back) {
      t.dispose();
      r.grad.dispose();
      t = tf.tensor4d(cur, x.shape);
      r = lossGradient(model, t, labels, 'logit-diff', targets);
    }
    t.dispose();
    const g = r.grad.dataSync() as Float32Array;
    r.grad.dispose();
    for (let i = 0; i < n; i++) {
      const f = r.loss[i]!;
      // The hyperplane at cur: f + gᵀ(z − cur) = 0; at x: offset f + gᵀ(x − cur).
      let shift = 0;
      for (let k = 0; k < d; k++) shift += g[i * d + k]! * (xs[i * d + k]! - cur[i * d + k]!);
      const nd = projectLinf(cur, i * d, g, i * d, d, f, delta);
      const no = projectLinf(xs, i * d, g, i * d, d, f + shift, deltaOrig);
      const a = nd + no > 0 ? Math.min(nd / (nd + no), o.alphaMax) : 0;
      for (let k = 0; k < d; k++) {
        const v = (1 - a) * (cur[i * d + k]! + o.eta * delta[k]!) + a * (xs[i * d + k]! + o.eta * deltaOrig[k]!);
        cur[i * d + k] = v < 0 ? 0 : v > 1 ? 1 : v;
      }
    }
  }
  // The last iterate is checked too.
  const t = tf.tensor4d(cur, x.shape);
  const pred = tf.tidy(() => tf.argMax(model.logits(t), 1).dataSync() as Int32Array);
  t.dispose();
  for (let i = 0; i < n; i++) {
    if (pred[i] === labels[i]) continue;
    const dd = distance(cur, i);
    if (dd < dist[i]!) {
      dist[i] = dd;
      best.set(cur.subarray(i * d, i * d + d), i * d);
    }
  }
  return { best, dist };
}

/**
 * FAB-T on a batch: per row, the closest misclassified point found within ε over the targets (the first target
 * that succeeds), else x. Returns the adversarial batch (owned by the caller) and the rows it broke.
 */
export function fabTargeted(model: Model, x: tf.Tensor4D, labels: ArrayLike<number>, o: FabOptions): { adv: tf.Tensor4D; fooled: Uint8Array } {
  checkFabOptions(o);
  const n = x.shape[0];
  const d = x.shape[1] * x.shape[2] * x.shape[3];
  const out = (x.dataSync() as Float32Array).slice();
  const fooled = new Uint8Array(n);
  const ranked = targetRanking(model, x, labels);
  const count = Math.min(o.targets, ranked[0]?.length ?? 0);
  // Rows already misclassified at x need no attack.
  const clean = tf.tidy(() => tf.argMax(model.predictLogits(x), 1).dataSync() as Int32Array);
  for (let i = 0; i < n; i++) if (clean[i] !== labels[i]) fooled[i] = 1;
  for (let k = 0; k < count; k++) {
    const rows: number[] = [];
    for (let i = 0; i < n; i++) if (fooled[i] === 0) rows.push(i);
    if (rows.length === 0) break;
    const sub = new Float32Array(rows.length * d);
    rows.forEach((r, j) => sub.set(out.subarray(r * d, r * d + d), j * d));
    const xt = tf.tensor4d(sub, [rows.length, x.shape[1], x.shape[2], x.shape[3]]);
    try {
      const run = fabRun(
        model,
        xt,
        rows.map((r) => labels[r]!),
        rows.map((r) => ranked[r]![k]!),
        o,
      );
      rows.forEach((r, j) => {
        if (run.dist[j]! <= o.eps) {
          fooled[r] = 1;
          out.set(run.best.subarray(j * d, j * d + d), r * d);
        }
      });
    } finally {
      xt.dispose();
    }
  }
  return { adv: tf.tensor4d(out, x.shape), fooled };
}
