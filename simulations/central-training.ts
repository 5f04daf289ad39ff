/**
 * `npm run train:central`: trains `cnn-mnist` centrally on the embedded MNIST digits for a few epochs, printing
 * test accuracy after each, then clean / FGSM / PGD-20 accuracy of the result (ε = 0.3, the reference's
 * threat model). The baseline a federation is compared against (it was `npm start` before simulations).
 *
 * Options: --epochs N (default 10), --dataset NAME (default mnist-embedded), --data-dir DIR, --model NAME,
 * --seed N, --backend NAME, --attack-count N (test images attacked, default 1000).
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../shared/compute/backend.js';
import { loadDataset } from '../shared/data/index.js';
import { createModel } from '../shared/models/model.js';
import { trainLocal } from '../shared/train/sgd.js';
import { accuracy } from '../shared/train/evaluate.js';
import { range } from '../shared/train/batches.js';
import { robustAccuracy, STANDARD_ATTACKS } from '../shared/attacks/robust-accuracy.js';
import { intFlag } from '../shared/util/flags.js';

const { values } = parseArgs({
  options: {
    epochs: { type: 'string', default: '10' },
    dataset: { type: 'string', default: 'mnist-embedded' },
    'data-dir': { type: 'string' },
    model: { type: 'string', default: 'cnn-mnist' },
    seed: { type: 'string', default: '1' },
    backend: { type: 'string' },
    'attack-count': { type: 'string', default: '1000' },
  },
});
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
  const r = trainLocal(model, train, all, { epochs: 1, batchSize: 64, lr: 0.01, momentum: 0.9, seed: seed * 1000 + e });
  console.log(`epoch ${e}/${epochs}  loss ${r.meanLoss.toFixed(4)}  test accuracy ${(100 * accuracy(model, test)).toFixed(2)} %  (${secs()})`);
}

const n = Math.min(attackCount, test.count);
const idx = range(n);
console.log(`robustness on the first ${n} test images (ε = 0.3):`);
const labels: Record<string, string> = {
  clean: 'clean',
  fgsm: 'FGSM',
  'pgd-20': 'PGD-20, α = 0.01 (reference protocol)',
  'pgd-20-madry': 'PGD-20, α = 2.5·ε/20',
};
for (const name of Object.keys(labels)) {
  const spec = STANDARD_ATTACKS[name]!;
  const acc = robustAccuracy(model, test, spec.kind === 'pgd' ? { ...spec, seed } : spec, idx);
  console.log(`  ${labels[name]!.padEnd(38)} ${(100 * acc).toFixed(2)} %`);
}
console.log(`done in ${secs()}; tensors alive: ${tf.memory().numTensors} (the model's ${model.params.length} weights)`);
model.dispose();
