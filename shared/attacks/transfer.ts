/**
 * Black-box transfer: adversarial examples crafted with PGD on each surrogate (white-box on the surrogate, cross-
 * entropy, the surrogate in inference mode) and then classified by the target model, which the attack never
 * queries. With several surrogates an example is robust only if every surrogate's example fails; each surrogate's
 * own robust flags are kept as components. Surrogates come from `surrogates.ts` (held-out data, disk cache).
 */
import * as tf from '@tensorflow/tfjs';
import type { Model } from '../models/model.js';
import type { ImageSource } from '../train/batches.js';
import { predictClasses } from '../train/evaluate.js';
import { pgd } from './pgd.js';
import { surrogateLetter, type TransferOptions } from './spec.js';
import { surrogateModel } from './surrogates.js';
import type { SuiteOutcome } from './autoattack.js';

/**
 * Transfer examples for a batch against `target`: per row the first surrogate's example that fools the target,
 * else the first surrogate's. `data` is the test set the surrogates' held-out rows come from.
 */
export function transferAttack(target: Model, data: ImageSource, x: tf.Tensor4D, yOneHot: tf.Tensor2D, labels: Uint8Array, o: TransferOptions): SuiteOutcome {
  const n = x.shape[0];
  const robust = new Uint8Array(n).fill(1);
  const components: SuiteOutcome['components'] = [];
  let adv: tf.Tensor4D | undefined;
  try {
    o.surrogates.forEach((name, s) => {
      const sur = surrogateModel(data, { surrogate: name, seed: o.surrogateSeed, epochs: o.epochs });
      let crafted: tf.Tensor4D;
      try {
        crafted = pgd(sur, x, yOneHot, { eps: o.eps, alpha: o.alpha, steps: o.steps, randomStart: o.randomStart ?? true, restarts: o.restarts ?? 1, seed: ((o.seed ?? 0) * 17 + s) >>> 0 });
      } finally {
        sur.dispose();
      }
      const pred = predictClasses(target, crafted);
      const own = Uint8Array.from(pred, (p, i) => (p === labels[i] ? 1 : 0));
      components.push({ name: surrogateLetter(name), robust: own });
      // Rows this surrogate breaks first take its example.
      const take = Uint8Array.from(own, (r, i) => (r === 0 && robust[i] === 1 ? 1 : 0));
      if (adv === undefined) adv = crafted;
      else {
        const prev: tf.Tensor4D = adv;
        adv = tf.tidy(
          () =>
            tf.where(
              tf
                .tensor1d(Int32Array.from(take), 'int32')
                .cast('bool')
                .reshape([-1, 1, 1, 1])
                .tile([1, ...x.shape.slice(1)]),
              crafted,
              prev,
            ) as tf.Tensor4D,
        );
        prev.dispose();
        crafted.dispose();
      }
      for (let i = 0; i < n; i++) if (own[i] === 0) robust[i] = 0;
    });
  } catch (err) {
    adv?.dispose();
    throw err;
  }
  return { adv: adv ?? x.clone(), robust, components };
}
