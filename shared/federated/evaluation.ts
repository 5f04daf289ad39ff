/**
 * The evaluation of a global model: clean and attacked accuracy on the first `subset` test images, PGD seeded
 * by (seed, round) so a resumed run evaluates as an uninterrupted one. Pure of any transport; the round engine
 * runs it for the in-process runner and the coordinator, which runs it in-thread (library default) or in a worker
 * thread (server/eval-worker.ts, as `rfl coordinator` does) so that a long evaluation never stalls the socket.io
 * event loop.
 */
import { attackAt, robustAccuracy } from '../attacks/robust-accuracy.js';
import type { Dataset } from '../data/dataset.js';
import { Model, type ModelSpec } from '../models/model.js';
import { range } from '../train/batches.js';
import { Rng } from '../util/random.js';

/** What an evaluation needs besides the weights. */
export interface EvaluationSetup {
  spec: ModelSpec;
  test: Dataset;
  attacks: readonly string[];
  eps: number;
  /** Test images evaluated (the first ones); default all. */
  subset?: number;
  /** The run seed: PGD's random starts derive from (seed, round). */
  seed: number;
}

/** Accuracy in [0, 1] under each attack, by name. */
export function evaluateWeights(setup: EvaluationSetup, round: number, weights: Float32Array): Record<string, number> {
  const model = new Model(setup.spec, weights);
  try {
    const n = Math.min(setup.subset ?? setup.test.count, setup.test.count);
    const out: Record<string, number> = {};
    for (const name of setup.attacks) {
      const s = attackAt(name, setup.eps);
      out[name] = robustAccuracy(model, setup.test, s.kind === 'pgd' ? { ...s, seed: new Rng(setup.seed).fork('eval').fork(round).nextUint32() } : s, range(n), 1000);
    }
    return out;
  } finally {
    model.dispose();
  }
}
