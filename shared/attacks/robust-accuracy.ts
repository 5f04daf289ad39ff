/** Accuracy under attack over a dataset, in batches (the attack sees the true labels, white-box). */
import type { Model } from '../models/model.js';
import { countCorrect, predictClasses, predictClassesAsync } from '../train/evaluate.js';
import type * as tf from '@tensorflow/tfjs';
import { disposeBatch, gatherBatch, range, type Batch, type ImageSource } from '../train/batches.js';
import { fgsm, pgd } from './pgd.js';
import { apgd } from './apgd.js';
import { square } from './square.js';
import { fabTargeted } from './fab.js';
import { autoattack } from './autoattack.js';
import { transferAttack } from './transfer.js';
import { checkDisjointFromHeldOut } from './surrogates.js';
import { withSeed, type AttackSpec } from './spec.js';

export { STANDARD_ATTACKS, STANDARD_EPS, SURROGATES, COSTLY_KINDS, SYNC_KINDS, attackAt, scaleTo, withSeed, type AttackSpec, type SuiteComponent, type TransferOptions } from './spec.js';

/** An attacked batch: the images to classify, or (suites) the attack's own robust flags and its components'. */
interface Attacked {
  x: tf.Tensor4D;
  owned: boolean;
  /** Per row, 1 if still classified correctly (suites decide this themselves, stage by stage). */
  robust?: Uint8Array;
  components?: { name: string; robust: Uint8Array }[];
}

/** The batch as the attack leaves it (the clean images for `none`); `owned` says whether the caller frees it. */
function attackBatch(model: Model, data: ImageSource, b: Batch, attack: AttackSpec, k: number): Attacked {
  const seed = (s: { seed?: number }): number => ((s.seed ?? 0) * 100003 + k) >>> 0;
  switch (attack.kind) {
    case 'none':
      return { x: b.x, owned: false };
    case 'fgsm':
      return { x: fgsm(model, b.x, b.y, attack.eps), owned: true };
    case 'pgd':
      // As before the parameter-free attacks existed (no wrap to 32 bits), so PGD figures stay reproducible.
      return { x: pgd(model, b.x, b.y, { ...attack, seed: (attack.seed ?? 0) * 100003 + k }), owned: true };
    case 'apgd':
      return { x: apgd(model, b.x, b.labels, { ...attack, seed: seed(attack) }).adv, owned: true };
    case 'square':
      return { x: square(model, b.x, b.labels, { ...attack, seed: seed(attack) }).adv, owned: true };
    case 'fab':
      return { x: fabTargeted(model, b.x, b.labels, attack).adv, owned: true };
    case 'autoattack': {
      const s = withSeed(attack, seed(attack));
      const r = autoattack(model, b.x, b.labels, s.kind === 'autoattack' ? s.components : [], data.numClasses);
      return { x: r.adv, owned: true, robust: r.robust, components: r.components };
    }
    case 'transfer': {
      const r = transferAttack(model, data, b.x, b.y, b.labels, { ...attack, seed: seed(attack) });
      return { x: r.adv, owned: true, robust: r.robust, components: attack.surrogates.length > 1 ? r.components : [] };
    }
  }
}

/**
 * The evaluation batches of `indices` in order, each with its attacked images; the caller classifies `x` and
 * counts against `labels` before asking for the next batch, which frees the previous one (also on an early exit).
 */
function* attackedBatches(model: Model, data: ImageSource, attack: AttackSpec, indices: ArrayLike<number>, batchSize: number): Generator<Attacked & { labels: Uint8Array }> {
  if (indices.length === 0) throw new Error('robustAccuracy: empty evaluation set');
  if (attack.kind === 'transfer') checkDisjointFromHeldOut(indices, data.labels.length);
  for (let s = 0, k = 0; s < indices.length; s += batchSize, k++) {
    const b = gatherBatch(data, indices, s, Math.min(s + batchSize, indices.length));
    const a = attackBatch(model, data, b, attack, k);
    try {
      yield { ...a, labels: b.labels };
    } finally {
      if (a.owned) a.x.dispose();
      disposeBatch(b);
    }
  }
}

/** Correct rows after an attack, and for suites (AutoAttack, transfer from several surrogates) per component. */
export interface RobustCount {
  correct: number;
  count: number;
  /**
   * Correct rows per component: for AutoAttack cumulative (robust after that attack and every one before it), for
   * transfer per surrogate on its own. Absent for single attacks.
   */
  components?: Record<string, number>;
}

const ones = (a: Uint8Array): number => a.reduce((s, v) => s + v, 0);

function addComponents(into: Record<string, number>, comps: Attacked['components']): void {
  for (const c of comps ?? []) into[c.name] = (into[c.name] ?? 0) + ones(c.robust);
}

/**
 * `robustCount` with asynchronous reads: the form a GPU backend (WebGPU in Node) needs for FGSM and PGD; the
 * parameter-free attacks, Square, AutoAttack and transfer read synchronously and need a CPU backend.
 */
export async function robustCountAsync(model: Model, data: ImageSource, attack: AttackSpec, indices: ArrayLike<number> = range(data.labels.length), batchSize = 500): Promise<RobustCount> {
  let correct = 0;
  const comps: Record<string, number> = {};
  for (const a of attackedBatches(model, data, attack, indices, batchSize)) {
    correct += a.robust !== undefined ? ones(a.robust) : countCorrect(await predictClassesAsync(model, a.x), a.labels);
    addComponents(comps, a.components);
  }
  return { correct, count: indices.length, ...(Object.keys(comps).length > 0 ? { components: comps } : {}) };
}

/** Rows classified correctly after the attack (and per component for suites). */
export function robustCount(model: Model, data: ImageSource, attack: AttackSpec, indices: ArrayLike<number> = range(data.labels.length), batchSize = 500): RobustCount {
  let correct = 0;
  const comps: Record<string, number> = {};
  for (const a of attackedBatches(model, data, attack, indices, batchSize)) {
    correct += a.robust !== undefined ? ones(a.robust) : countCorrect(predictClasses(model, a.x), a.labels);
    addComponents(comps, a.components);
  }
  return { correct, count: indices.length, ...(Object.keys(comps).length > 0 ? { components: comps } : {}) };
}

/**
 * `robustAccuracy` with asynchronous reads: the form a GPU backend (WebGPU in Node) needs; the same attacks,
 * batches and seeds, so both give the same figure on the same backend.
 */
export async function robustAccuracyAsync(model: Model, data: ImageSource, attack: AttackSpec, indices: ArrayLike<number> = range(data.labels.length), batchSize = 500): Promise<number> {
  const r = await robustCountAsync(model, data, attack, indices, batchSize);
  return r.correct / r.count;
}

/** Fraction of rows classified correctly after the attack. */
export function robustAccuracy(model: Model, data: ImageSource, attack: AttackSpec, indices: ArrayLike<number> = range(data.labels.length), batchSize = 500): number {
  const r = robustCount(model, data, attack, indices, batchSize);
  return r.correct / r.count;
}
