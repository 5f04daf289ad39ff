/** Accuracy under attack over a dataset, in batches (the attack sees the true labels, white-box). */
import type { Model } from '../models/model.js';
import { countCorrect, predictClasses, predictClassesAsync } from '../train/evaluate.js';
import type * as tf from '@tensorflow/tfjs';
import { disposeBatch, gatherBatch, range, type Batch, type ImageSource } from '../train/batches.js';
import { fgsm, pgd, type PgdOptions } from './pgd.js';

/** An attack to evaluate under; `none` is clean accuracy. */
export type AttackSpec = { kind: 'none' } | { kind: 'fgsm'; eps: number } | ({ kind: 'pgd' } & PgdOptions);

/**
 * The attacks of threats-and-evaluation.md, ε = 0.3 on [0,1] pixels: the reference protocol (FGSM; PGD-10/20
 * with α = 0.01, random start, 1 restart) and the strong protocol (PGD-40, α = 2.5·ε/steps, random start,
 * 5 restarts). `pgd-20-madry` is PGD-20 with the strong protocol's step rule (α = 2.5·ε/20).
 */
export const STANDARD_ATTACKS: Record<string, AttackSpec> = {
  clean: { kind: 'none' },
  fgsm: { kind: 'fgsm', eps: 0.3 },
  'pgd-10': { kind: 'pgd', eps: 0.3, alpha: 0.01, steps: 10, randomStart: true },
  'pgd-20': { kind: 'pgd', eps: 0.3, alpha: 0.01, steps: 20, randomStart: true },
  'pgd-20-madry': { kind: 'pgd', eps: 0.3, alpha: (2.5 * 0.3) / 20, steps: 20, randomStart: true },
  'pgd-strong': { kind: 'pgd', eps: 0.3, alpha: (2.5 * 0.3) / 40, steps: 40, randomStart: true, restarts: 5 },
};

/** The ε every preset of STANDARD_ATTACKS is written for. */
export const STANDARD_EPS = 0.3;

/**
 * A standard attack at radius `eps`: ε and the step size scale together (α·steps/ε stays as in the preset), so
 * `pgd-20` at ε = 0.1 has α = 0.01/3. At ε = 0.3 it is the preset itself.
 */
export function attackAt(name: string, eps: number = STANDARD_EPS): AttackSpec {
  const s = STANDARD_ATTACKS[name];
  if (s === undefined) throw new Error(`unknown attack "${name}"; expected one of ${Object.keys(STANDARD_ATTACKS).join(', ')}`);
  if (!(eps > 0 && eps <= 1)) throw new Error(`attack ${name}: eps = ${eps}; expected a number in (0, 1]`);
  if (eps === STANDARD_EPS || s.kind === 'none') return s;
  const k = eps / STANDARD_EPS;
  return s.kind === 'fgsm' ? { ...s, eps } : { ...s, eps, alpha: s.alpha * k };
}

/** The batch as the attack leaves it (the clean images for `none`); `owned` says whether the caller frees it. */
function attackBatch(model: Model, b: Batch, attack: AttackSpec, k: number): { x: tf.Tensor4D; owned: boolean } {
  if (attack.kind === 'none') return { x: b.x, owned: false };
  const adv = attack.kind === 'fgsm' ? fgsm(model, b.x, b.y, attack.eps) : pgd(model, b.x, b.y, { ...attack, seed: (attack.seed ?? 0) * 100003 + k });
  return { x: adv, owned: true };
}

/**
 * The evaluation batches of `indices` in order, each with its attacked images; the caller classifies `x` and
 * counts against `labels` before asking for the next batch, which frees the previous one (also on an early exit).
 */
function* attackedBatches(model: Model, data: ImageSource, attack: AttackSpec, indices: ArrayLike<number>, batchSize: number): Generator<{ x: tf.Tensor4D; labels: Uint8Array }> {
  if (indices.length === 0) throw new Error('robustAccuracy: empty evaluation set');
  for (let s = 0, k = 0; s < indices.length; s += batchSize, k++) {
    const b = gatherBatch(data, indices, s, Math.min(s + batchSize, indices.length));
    const a = attackBatch(model, b, attack, k);
    try {
      yield { x: a.x, labels: b.labels };
    } finally {
      if (a.owned) a.x.dispose();
      disposeBatch(b);
    }
  }
}

/**
 * `robustAccuracy` with asynchronous reads: the form a GPU backend (WebGPU in Node) needs; the same attacks,
 * batches and seeds, so both give the same figure on the same backend.
 */
export async function robustAccuracyAsync(model: Model, data: ImageSource, attack: AttackSpec, indices: ArrayLike<number> = range(data.labels.length), batchSize = 500): Promise<number> {
  let correct = 0;
  for (const { x, labels } of attackedBatches(model, data, attack, indices, batchSize)) correct += countCorrect(await predictClassesAsync(model, x), labels);
  return correct / indices.length;
}

/** Fraction of rows classified correctly after the attack. */
export function robustAccuracy(model: Model, data: ImageSource, attack: AttackSpec, indices: ArrayLike<number> = range(data.labels.length), batchSize = 500): number {
  let correct = 0;
  for (const { x, labels } of attackedBatches(model, data, attack, indices, batchSize)) correct += countCorrect(predictClasses(model, x), labels);
  return correct / indices.length;
}
