/**
 * The evaluation of a global model: clean and attacked accuracy on the first `subset` test images, PGD seeded
 * by (seed, round) so a resumed run evaluates as an uninterrupted one. Pure of any transport; the round engine
 * runs it for the in-process runner and the coordinator, which runs it in-thread (library default) or in a worker
 * thread (server/eval-worker.ts, as `rfl coordinator` does) so that a long evaluation never stalls the socket.io
 * event loop.
 */
import { attackAt, COSTLY_KINDS, robustCount, withSeed } from '../attacks/robust-accuracy.js';
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
  /** Test images the AutoAttack family runs on (the first ones, at most `subset`); default all evaluated. */
  autoattackSubset?: number;
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
      const m = COSTLY_KINDS.has(s.kind) ? Math.min(setup.autoattackSubset ?? n, n) : n;
      const r = robustCount(model, setup.test, withSeed(s, new Rng(setup.seed).fork('eval').fork(round).nextUint32()), range(m), 1000);
      out[name] = r.correct / r.count;
    }
    return out;
  } finally {
    model.dispose();
  }
}
