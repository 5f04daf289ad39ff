/**
 * `rfl train`: trains `cnn-mnist` centrally on the embedded MNIST digits for a few epochs, printing
 * test accuracy after each, then clean / FGSM / PGD-20 accuracy of the result (ε = 0.3, the reference's
 * threat model). The baseline a federation is compared against (it was `npm start` before simulations).
 *
 * Options: --epochs N (default 10), --dataset NAME (default mnist-embedded), --data-dir DIR, --model NAME,
 * --seed N, --backend NAME, --attack-count N (test images attacked, default 1000).
 *
 * The centralised adversarial-training baseline (docs/spec/decent-bva.md §2.1, "Beyond the paper"):
 * --adversarial pgd-at|trades|eat (local adversarial training as the federated methods of those names run it),
 * --eps E (training ε, default 0.3), --steps N (PGD / TRADES steps, default 10), --trades-beta B (default 6),
 * --eval-eps E (ε of the attacks, default --eps), --attacks a,b,c (default clean,fgsm,pgd-20,pgd-20-madry),
 * --out FILE (writes the figures as JSON).
 */
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../shared/compute/backend.js';
import { loadDataset } from '../shared/data/index.js';
import { createModel } from '../shared/models/model.js';
import { trainLocal } from '../shared/train/sgd.js';
import { accuracy } from '../shared/train/evaluate.js';
import { range } from '../shared/train/batches.js';
import { writeFileSync } from 'node:fs';
import { attackAt, robustAccuracy, withSeed } from '../shared/attacks/robust-accuracy.js';
import type { LocalAdversarialSpec } from '../shared/attacks/adversarial-training.js';
import { intFlag } from '../shared/util/flags.js';

/** The options, in node:util parseArgs form; `rfl` gives each its help text (cli/commands/). */
export const OPTIONS = {
  epochs: { type: 'string', default: '10' },
  dataset: { type: 'string', default: 'mnist-embedded' },
  'data-dir': { type: 'string' },
  model: { type: 'string', default: 'cnn-mnist' },
  seed: { type: 'string', default: '1' },
  backend: { type: 'string' },
  'attack-count': { type: 'string', default: '1000' },
  adversarial: { type: 'string', default: 'none' },
  eps: { type: 'string', default: '0.3' },
  steps: { type: 'string', default: '10' },
  'trades-beta': { type: 'string', default: '6' },
  'eval-eps': { type: 'string' },
  attacks: { type: 'string', default: 'clean,fgsm,pgd-20,pgd-20-madry' },
  out: { type: 'string' },
} satisfies ParseArgsOptionsConfig;

/** Runs the command; `argv` is its arguments (without node and the script). */
export async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({ args: [...argv], options: OPTIONS });
  const num = (name: string, v: string, lo: number, hi: number): number => {
    const x = Number(v);
    if (!(x >= lo && x <= hi)) throw new Error(`--${name} ${v}: expected a number in [${lo}, ${hi}]`);
    return x;
  };
  const eps = num('eps', values.eps!, 0, 1);
  const evalEps = values['eval-eps'] !== undefined ? num('eval-eps', values['eval-eps'], 0, 1) : eps;
  const adversarialKind = values.adversarial!;
  const steps = intFlag('steps', values.steps, 1);
  const tradesBeta = num('trades-beta', values['trades-beta']!, 0, 1000);
  const adversarial: LocalAdversarialSpec | undefined =
    adversarialKind === 'none'
      ? undefined
      : adversarialKind === 'eat'
        ? { attack: 'fgsm', eps, loss: 'clean+adv' }
        : adversarialKind === 'pgd-at'
          ? { attack: 'pgd', eps, steps, loss: 'adv' }
          : adversarialKind === 'trades'
            ? { attack: 'trades', eps, steps, loss: 'trades', beta: tradesBeta }
            : (() => {
                throw new Error(`--adversarial ${adversarialKind}: expected none, eat, pgd-at or trades`);
              })();
  const attackNames = values.attacks!.split(',').filter((a) => a !== '');
  // Checked before training, which can take hours: a typo must not cost them.
  if (!(evalEps > 0)) throw new Error(`--eval-eps ${evalEps}: expected a number in (0, 1]`);
  for (const name of attackNames) attackAt(name, evalEps);
  const epochs = intFlag('epochs', values.epochs, 1);
  const seed = intFlag('seed', values.seed, 0);
  const attackCount = intFlag('attack-count', values['attack-count'], 1);
  const t0 = performance.now();
  const secs = (): string => ((performance.now() - t0) / 1000).toFixed(1) + ' s';

  await initBackend(values.backend !== undefined ? { backend: values.backend as BackendName } : {});
  const { train, test } = loadDataset(values.dataset!, values['data-dir'] !== undefined ? { dir: values['data-dir'] } : {});
  console.log(`${values.dataset}: ${train.count} train / ${test.count} test images of ${train.height}×${train.width}×${train.channels}`);
  const model = createModel(values.model!, seed, [train.height, train.width, train.channels], train.numClasses);
  console.log(`${values.model}: ${model.spec.numParams.toLocaleString('en')} parameters; SGD lr 0.01, momentum 0.9, batch 64`);

  const all = range(train.count);
  for (let e = 1; e <= epochs; e++) {
    const r = trainLocal(model, train, all, { epochs: 1, batchSize: 64, lr: 0.01, momentum: 0.9, seed: seed * 1000 + e, ...(adversarial !== undefined ? { adversarial } : {}) });
    console.log(`epoch ${e}/${epochs}  loss ${r.meanLoss.toFixed(4)}  test accuracy ${(100 * accuracy(model, test)).toFixed(2)} %  (${secs()})`);
  }

  const n = Math.min(attackCount, test.count);
  const idx = range(n);
  console.log(`robustness on the first ${n} test images (ε = ${evalEps}):`);
  const figures: Record<string, number> = {};
  for (const name of attackNames) {
    const spec = attackAt(name, evalEps);
    const acc = robustAccuracy(model, test, withSeed(spec, seed), idx);
    figures[name] = acc;
    console.log(`  ${name.padEnd(14)} ${(100 * acc).toFixed(2)} %  ${JSON.stringify(spec)}`);
  }
  if (values.out !== undefined) {
    const attacks = Object.fromEntries(attackNames.map((a) => [a, attackAt(a, evalEps)]));
    const record = {
      kind: 'central-baseline',
      dataset: values.dataset,
      model: values.model,
      epochs,
      seed,
      adversarial: adversarial ?? null,
      evalEps,
      count: n,
      accuracy: figures,
      attacks,
      wallMs: performance.now() - t0,
      date: new Date().toISOString(),
    };
    writeFileSync(values.out, JSON.stringify(record, null, 2) + '\n');
    console.log(`wrote ${values.out}`);
  }
  console.log(`done in ${secs()}; tensors alive: ${tf.memory().numTensors} (the model's ${model.params.length} weights)`);
  model.dispose();
}
