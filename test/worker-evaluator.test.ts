/**
 * Evaluation off the event loop: the coordinator's evaluation in a worker thread gives the
 * same accuracies as in this thread, and while it runs this thread's event loop keeps turning (a callback queued
 * after the evaluation starts runs before it ends), where the in-thread evaluation holds it until done.
 */
import { expect } from 'chai';
import { initBackend } from '../shared/compute/backend.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { initialWeights, modelSpec } from '../shared/models/model.js';
import { evaluateWeights, type EvaluationSetup } from '../shared/federated/evaluation.js';
import { WorkerEvaluator } from '../server/worker-evaluator.js';

describe('evaluation in a worker thread', function () {
  this.timeout(120000);
  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
  });

  it('gives the in-thread accuracies without holding the event loop', async () => {
    const data = makeSyntheticDataset({ count: 100, testCount: 200, seed: 3 });
    const spec = modelSpec('mlp', [data.test.height, data.test.width, data.test.channels], data.test.numClasses);
    const weights = initialWeights(spec, 4);
    const setup: EvaluationSetup = { spec, test: data.test, attacks: ['clean', 'fgsm', 'pgd-20'], eps: 0.3, seed: 9 };
    const here = evaluateWeights(setup, 2, weights);

    const worker = new WorkerEvaluator(setup, 'wasm');
    try {
      await worker.evaluate(1, weights); // warm: the worker has loaded its backend
      const order: string[] = [];
      const done = worker.evaluate(2, weights).then((r) => {
        order.push('evaluated');
        return r;
      });
      setImmediate(() => order.push('event loop turned'));
      const there = await done;
      expect(order).to.deep.equal(['event loop turned', 'evaluated']);
      expect(there).to.deep.equal(here);

      // In this thread the evaluation runs to the end before the loop turns.
      const inThread: string[] = [];
      setImmediate(() => inThread.push('event loop turned'));
      evaluateWeights(setup, 2, weights);
      inThread.push('evaluated');
      await new Promise((r) => setImmediate(r));
      expect(inThread).to.deep.equal(['evaluated', 'event loop turned']);
    } finally {
      await worker.close();
    }
  });
});
