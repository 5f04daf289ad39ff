/**
 * The AutoAttack suite (Croce & Hein, ICML 2020, arXiv 2003.01690), version `standard` for L∞: APGD-CE, then
 * APGD-T (targeted DLR, 9 targets), then FAB-T (9 targets), then Square (5,000 queries); the results record the
 * components that ran. As in the original, each attack runs only on the examples still
 * robust after the ones before it (misclassified clean examples are never attacked), and an example is robust only
 * if every attack fails. The outcome carries the cumulative robust flags after each component.
 */
import * as tf from '@tensorflow/tfjs';
import type { Model } from '../models/model.js';
import { predictClasses } from '../train/evaluate.js';
import { apgd } from './apgd.js';
import { square } from './square.js';
import { fabTargeted } from './fab.js';
import { fgsm, pgd } from './pgd.js';
import type { AttackSpec, SuiteComponent } from './spec.js';

/** What a suite did to a batch. */
export interface SuiteOutcome {
  /** Per row: the adversarial example that broke it, else the clean image. Owned by the caller. */
  adv: tf.Tensor4D;
  /** 1 where the row is still classified correctly after every component. */
  robust: Uint8Array;
  /** Per component (in run order), the rows robust after it and every component before it. */
  components: { name: string; robust: Uint8Array }[];
}

/** One white-box or score-based attack on a sub-batch: adversarial examples and the rows it broke by its own count. */
function runOne(model: Model, x: tf.Tensor4D, labels: Uint8Array, spec: AttackSpec, numClasses: number): tf.Tensor4D {
  switch (spec.kind) {
    case 'apgd':
      return apgd(model, x, labels, spec).adv;
    case 'square':
      return square(model, x, labels, spec).adv;
    case 'fab':
      return fabTargeted(model, x, labels, spec).adv;
    case 'pgd':
    case 'fgsm': {
      const y = tf.tidy(() => tf.oneHot(tf.tensor1d(Int32Array.from(labels), 'int32'), numClasses).toFloat() as tf.Tensor2D);
      try {
        return spec.kind === 'pgd' ? pgd(model, x, y, spec) : fgsm(model, x, y, spec.eps);
      } finally {
        y.dispose();
      }
    }
    default:
      throw new Error(`autoattack: component kind ${spec.kind} cannot run inside a suite`);
  }
}

/** Rows `rows` of a [B, h, w, c] array as a tensor. */
function rowsOf(xs: Float32Array, rows: number[], shape: [number, number, number, number]): tf.Tensor4D {
  const d = shape[1] * shape[2] * shape[3];
  const out = new Float32Array(rows.length * d);
  rows.forEach((r, i) => out.set(xs.subarray(r * d, r * d + d), i * d));
  return tf.tensor4d(out, [rows.length, shape[1], shape[2], shape[3]]);
}

/** Runs the suite's components in order, each on the rows still robust. */
export function autoattack(model: Model, x: tf.Tensor4D, labels: Uint8Array, components: readonly SuiteComponent[], numClasses: number): SuiteOutcome {
  const n = x.shape[0];
  const d = x.shape[1] * x.shape[2] * x.shape[3];
  const xs = x.dataSync() as Float32Array;
  const out = xs.slice();
  const clean = predictClasses(model, x);
  const robust = Uint8Array.from(clean, (p, i) => (p === labels[i] ? 1 : 0));
  const stages: SuiteOutcome['components'] = [];
  for (const c of components) {
    const rows: number[] = [];
    for (let i = 0; i < n; i++) if (robust[i] === 1) rows.push(i);
    if (rows.length > 0) {
      const sub = rowsOf(xs, rows, x.shape);
      const subLabels = Uint8Array.from(rows, (r) => labels[r]!);
      let adv: tf.Tensor4D | undefined;
      try {
        adv = runOne(model, sub, subLabels, c.spec, numClasses);
        // The model's own verdict on the adversarial rows decides, as the final count will.
        const pred = predictClasses(model, adv);
        const av = adv.dataSync() as Float32Array;
        rows.forEach((r, i) => {
          if (pred[i] !== subLabels[i]) {
            robust[r] = 0;
            out.set(av.subarray(i * d, i * d + d), r * d);
          }
        });
      } finally {
        sub.dispose();
        adv?.dispose();
      }
    }
    stages.push({ name: c.name, robust: robust.slice() });
  }
  return { adv: tf.tensor4d(out, x.shape), robust, components: stages };
}
