/**
 * Clients training on the GPU through the simulation pool (trainDevice 'gpu'): the pool's lockstep groups, the GPU
 * worker's task (shared/train/lockstep.ts on webgpu) and the results each client gets back, against the same tasks
 * on the CPU workers. Runs where a Vulkan loader and GPU driver are present (a GPU, or Mesa's lavapipe:
 * bench/gpu/lavapipe.sh); elsewhere it is skipped and says why. The bar is the relative one of the lockstep tests:
 * 1e-3 of each client's update after a few steps (float sums in another order, on another backend); on lavapipe
 * every client came within 5e-7.
 */
import { expect } from 'chai';
import { vulkanMissing } from '../shared/compute/webgpu/backend.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { partition, sampleSharedSet } from '../shared/data/partition.js';
import { initialWeights, modelSpec } from '../shared/models/model.js';
import { SimulationPool } from '../simulations/pool/pool.js';
import type { TrainTask } from '../simulations/pool/tasks.js';

describe('training on the GPU through the simulation pool', function () {
  this.timeout(300_000);

  it('a lockstep group on the GPU worker gives each client what the CPU workers give it, with the shared set and with EAT', async function () {
    const missing = vulkanMissing();
    if (missing !== undefined) {
      console.log(`      (skipped: ${missing}; see docs/gpu.md)`);
      this.skip();
    }
    const data = makeSyntheticDataset({ count: 200, testCount: 16, seed: 3 });
    const sharedIdx = sampleSharedSet(data.train.count, 8, 1);
    const parts = partition(data.train.labels, { kind: 'iid' }, 3, 1, sharedIdx);
    const d = 28 * 28;
    const sharedSet = { x: new Float32Array(8 * d), labels: new Uint8Array(8) };
    sharedIdx.forEach((row, i) => {
      sharedSet.x.set(data.train.images.subarray(row * d, row * d + d), i * d);
      sharedSet.labels[i] = data.train.labels[row]!;
    });
    const weights = initialWeights(modelSpec('cnn-mnist'), 5);
    const cpu = new SimulationPool({ train: data.train, test: data.test, parts, workers: 1, backend: 'cpu' });
    const gpu = new SimulationPool({ train: data.train, test: data.test, parts, workers: 1, backend: 'cpu', trainDevice: 'gpu', lockstep: { maxClients: 3 } });
    try {
      for (const adversarial of [undefined, { attack: 'fgsm' as const, eps: 0.1, loss: 'clean+adv' as const }]) {
        const task = (client: number): Omit<TrainTask, 'kind'> => ({
          client,
          model: 'cnn-mnist',
          weights,
          sharedSet,
          train: { epochs: 1, batchSize: 32, lr: 0.05, momentum: 0.9, seed: 40 + client, sharedLossWeight: 1, ...(adversarial !== undefined ? { adversarial } : {}) },
        });
        const viaGpu = await Promise.all([0, 1, 2].map((k) => gpu.train(task(k))));
        expect(gpu.gpuFallbackReason, 'the GPU worker failed').to.equal(undefined);
        const viaCpu = await Promise.all([0, 1, 2].map((k) => cpu.train(task(k))));
        viaGpu.forEach((r, k) => {
          const ref = viaCpu[k]!;
          let num = 0;
          let den = 0;
          for (let i = 0; i < ref.weights.length; i++) {
            num += (r.weights[i]! - ref.weights[i]!) ** 2;
            den += (ref.weights[i]! - weights[i]!) ** 2;
          }
          // EAT's sign(∇) can turn a rounding difference in a near-zero gradient into a 2ε pixel change, so its bar is
          // looser (on lavapipe both gave 5e-7).
          expect(Math.sqrt(num / den), `client ${k}${adversarial !== undefined ? ', EAT' : ''}: of its update`).to.be.below(adversarial !== undefined ? 1e-2 : 1e-3);
          expect(r.numExamples).to.equal(ref.numExamples);
          expect(r.loss).to.be.closeTo(ref.loss, 1e-3 * Math.abs(ref.loss));
        });
      }
      // The three clients of each call trained in one group.
      expect(gpu.lockstep).to.deep.equal({ groups: 2, clients: 6 });
      expect(gpu.trainDevice).to.equal('gpu');
    } finally {
      await Promise.all([cpu.close(), gpu.close()]);
    }
  });
});
