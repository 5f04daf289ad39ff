/**
 * The parameter-free attacks, AutoAttack and transfer on small trained models: on a CNN trained on the embedded
 * digits, APGD-CE is at least as strong as PGD-20 and AutoAttack at least as strong as each of its components run
 * alone; transfer trains its surrogates on the held-out half of the test set, caches them on disk by (dataset,
 * surrogate, seed, epochs) and refuses to score held-out rows; a simulation records AutoAttack's and transfer's
 * figures, components and image counts in results.json, and its report shows them.
 */
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../shared/compute/backend.js';
import { loadDataset } from '../shared/data/index.js';
import { createModel, type Model } from '../shared/models/model.js';
import { trainLocal } from '../shared/train/sgd.js';
import { disposeBatch, gatherBatch, range } from '../shared/train/batches.js';
import { attackAt, robustCount, type AttackSpec } from '../shared/attacks/robust-accuracy.js';
import { clearSurrogateMemo, heldOutStart, surrogateFile, surrogateWeights, type SurrogateInfo } from '../shared/attacks/surrogates.js';
import { transferAttack } from '../shared/attacks/transfer.js';
import { resolveScenario } from '../simulations/scenario.js';
import { runSimulation } from '../simulations/engine.js';
import { buildReport } from '../simulations/report/build.js';
import { tinyData, tinyRunDir, tinyScenario } from './helpers/tiny-federation.js';

/** A preset at ε with lighter settings for a test (fewer iterations, targets or queries). */
function lighter(s: AttackSpec): AttackSpec {
  if (s.kind === 'apgd') return { ...s, steps: 50, ...(s.loss === 'dlr-targeted' ? { targets: 3 } : {}) };
  if (s.kind === 'square') return { ...s, queries: 300 };
  if (s.kind === 'fab') return { ...s, steps: 30, targets: 3 };
  if (s.kind === 'autoattack') return { ...s, components: s.components.map((c) => ({ name: c.name, spec: lighter(c.spec) })) };
  return s;
}

describe('APGD, AutoAttack and transfer on trained models', function () {
  this.timeout(600000);
  const { train, test } = loadDataset('mnist-embedded');
  let model: Model;
  const idx = range(100);
  const eps = 0.1;
  const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'rfl-surrogates-'));
  const savedDir = process.env['RFL_SURROGATE_DIR'];

  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
    process.env['RFL_SURROGATE_DIR'] = cacheDir;
    model = createModel('cnn-mnist', 1);
    trainLocal(model, train, range(3000), { epochs: 2, seed: 1, lr: 0.01, momentum: 0.9, batchSize: 64 });
  });
  after(() => {
    model.dispose();
    if (savedDir === undefined) delete process.env['RFL_SURROGATE_DIR'];
    else process.env['RFL_SURROGATE_DIR'] = savedDir;
  });

  it('APGD-CE ≤ PGD-20, and AutoAttack ≤ each of its components alone', () => {
    const acc = (s: AttackSpec): number => {
      const r = robustCount(model, test, { ...s, ...(s.kind !== 'none' ? { seed: 3 } : {}) } as AttackSpec, idx, 100);
      return r.correct / r.count;
    };
    const clean = acc(attackAt('clean'));
    const pgd20 = acc(attackAt('pgd-20', eps));
    const apgdCe = acc(lighter(attackAt('apgd-ce', eps)));
    const apgdT = acc(lighter(attackAt('apgd-t', eps)));
    const fab = acc(lighter(attackAt('fab-t', eps)));
    const sq = acc(lighter(attackAt('square', eps)));
    const aaSpec = lighter(attackAt('autoattack', eps));
    const aa = robustCount(model, test, { ...aaSpec, seed: 3 } as AttackSpec, idx, 100);
    const auto = aa.correct / aa.count;
    console.log(
      `      ε = ${eps}, 100 images: clean ${clean}, PGD-20 ${pgd20}, APGD-CE ${apgdCe}, APGD-T ${apgdT}, FAB-T ${fab}, Square ${sq}, AutoAttack ${auto} (stages ${JSON.stringify(aa.components)})`,
    );
    expect(clean).to.be.above(0.7);
    expect(apgdCe).to.be.at.most(pgd20);
    expect(pgd20 - apgdCe, 'APGD-CE is markedly stronger than PGD-20 at α = ε/30').to.be.above(0);
    for (const c of [apgdCe, apgdT, fab, sq]) expect(auto).to.be.at.most(c);
    expect(Object.keys(aa.components!)).to.deep.equal(['apgd-ce', 'apgd-t', 'fab-t', 'square']);
    expect(aa.components!['square']).to.equal(aa.correct);
    expect(aa.components!['apgd-ce']).to.be.at.least(aa.components!['apgd-t']!);
  });

  it('trains a surrogate on the held-out half of the test set once, then loads it from disk', () => {
    const key = { surrogate: 'surrogate-d', seed: 2, epochs: 1 };
    const infos: SurrogateInfo[] = [];
    const a = surrogateWeights(test, key, (i) => infos.push(i));
    const b = surrogateWeights(test, key, (i) => infos.push(i));
    clearSurrogateMemo();
    const c = surrogateWeights(test, key, (i) => infos.push(i));
    expect(infos.map((i) => i.source)).to.deep.equal(['trained', 'memory', 'disk']);
    expect(infos[0]!.trainAccuracy).to.be.above(0.2); // one epoch of 16 steps, well above chance (0.1)
    expect(b).to.equal(a);
    expect(Array.from(c)).to.deep.equal(Array.from(a));
    const file = surrogateFile(test, key);
    expect(path.dirname(file)).to.equal(cacheDir);
    expect(path.basename(file)).to.match(/^mnist-embedded-[0-9a-f]{16}-surrogate-d-seed2-e1\.f32$/);
    expect(existsSync(file)).to.equal(true);
    // Another seed or epoch count is another file.
    expect(surrogateFile(test, { ...key, epochs: 2 })).to.not.equal(file);
    expect(surrogateFile(test, { ...key, seed: 3 })).to.not.equal(file);
  });

  it('retrains a diverged surrogate at half the learning rate, says so, and refuses one that diverges at every rate', () => {
    // Surrogate B (convolutions without activations) on bright 17×17 images: the recipe's lr 0.01 and 0.005 give
    // non-finite losses, 0.0025 trains. At 100× the brightness every rate down to 0.01 / 2^4 diverges.
    const synthetic = (scale: number) => {
      const n = 400;
      const px = 17 * 17;
      let s = 12345;
      const rnd = () => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32;
      const labels = Uint8Array.from({ length: n }, () => Math.floor(rnd() * 10));
      const images = new Float32Array(n * px);
      for (let i = 0; i < n; i++) for (let j = 0; j < px; j++) images[i * px + j] = scale * (rnd() * 0.5 + (j % 10 === labels[i] ? 0.5 : 0));
      return { images, labels, height: 17, width: 17, channels: 1, numClasses: 10, count: n, name: `bright${scale}` };
    };
    const infos: SurrogateInfo[] = [];
    const w = surrogateWeights(synthetic(30), { surrogate: 'surrogate-b', seed: 1, epochs: 3 }, (i) => infos.push(i));
    expect(infos.map((i) => [i.source, i.lr])).to.deep.equal([['trained', 0.0025]]);
    expect(w.every(Number.isFinite)).to.equal(true);
    expect(infos[0]!.trainAccuracy).to.be.above(0.5);
    expect(() => surrogateWeights(synthetic(3000), { surrogate: 'surrogate-b', seed: 1, epochs: 3 })).to.throw(
      'transfer: surrogate surrogate-b diverged at every learning rate from 0.01 down to 0.000625 (non-finite loss or weights)',
    );
    expect(existsSync(surrogateFile(synthetic(3000), { surrogate: 'surrogate-b', seed: 1, epochs: 3 }))).to.equal(false);
  });

  // Any zoo model can stand in as a surrogate; the light `mlp` keeps the test fast.
  it('transfer: examples in the ball, worst over surrogates per example, and held-out rows refused', () => {
    const spec = { ...attackAt('transfer', eps), surrogates: ['surrogate-d', 'mlp'], epochs: 1, surrogateSeed: 2, seed: 4 } as AttackSpec;
    if (spec.kind !== 'transfer') throw new Error('transfer preset');
    const b = gatherBatch(test, idx, 0, 50);
    try {
      const r = transferAttack(model, test, b.x, b.y, b.labels, spec);
      const a = r.adv.dataSync();
      const x = b.x.dataSync();
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - x[i]!)).to.be.at.most(eps + 1e-6);
      r.adv.dispose();
      expect(r.components.map((c) => c.name)).to.deep.equal(['D', 'mlp']);
      for (let i = 0; i < 50; i++) expect(r.robust[i]).to.equal(r.components[0]!.robust[i]! & r.components[1]!.robust[i]!);
    } finally {
      disposeBatch(b);
    }
    const whole = robustCount(model, test, spec, range(50), 25);
    expect(Object.keys(whole.components!)).to.deep.equal(['D', 'mlp']);
    expect(whole.correct).to.be.at.most(Math.min(...Object.values(whole.components!)));
    const start = heldOutStart(test.count);
    expect(() => robustCount(model, test, spec, Int32Array.from([0, start]))).to.throw(/transfer: test row 1000 is in the surrogates' training rows \[1000, 2000\)/);
    const n0 = tf.memory().numTensors;
    robustCount(model, test, spec, range(20), 10);
    expect(tf.memory().numTensors).to.equal(n0);
  });

  it('a simulation records AutoAttack and transfer with components and image counts, and its report shows them', async () => {
    const runDir = tinyRunDir('suite');
    const scenario = resolveScenario({
      ...tinyScenario,
      evalSubset: 30,
      autoattackSubset: 12,
      finalAttacks: ['clean', 'pgd-20', 'autoattack', 'transfer-D'],
    });
    const lines: string[] = [];
    const result = await runSimulation({ scenario, runDir, data: tinyData, backend: 'wasm', log: (l) => lines.push(l) });
    expect(lines.some((l) => /transfer surrogate surrogate-d \(seed 1, 10 epochs\): trained on test rows \[30, 60\)/.test(l))).to.equal(true);
    const saved = JSON.parse(readFileSync(path.join(runDir, 'results.json'), 'utf8')) as {
      final: { accuracy: Record<string, number>; evaluated: number; evaluatedBy: Record<string, number>; components: Record<string, Record<string, number>> };
      attacks: Record<string, AttackSpec>;
    };
    expect(saved.final.evaluated).to.equal(30);
    expect(saved.final.evaluatedBy).to.deep.equal({ clean: 30, 'pgd-20': 30, autoattack: 12, 'transfer-D': 30 });
    expect(Object.keys(saved.final.components['autoattack']!)).to.deep.equal(['apgd-ce', 'apgd-t', 'fab-t', 'square']);
    expect(saved.final.components['autoattack']!['square']).to.equal(saved.final.accuracy['autoattack']);
    expect(saved.attacks['autoattack']!.kind).to.equal('autoattack');
    expect(saved.attacks['transfer-D']).to.deep.include({ kind: 'transfer', surrogates: ['surrogate-d'], epochs: 10, surrogateSeed: 1 });
    expect(result.final.accuracy['autoattack']).to.be.at.most(result.final.accuracy['clean']!);
    // Too many evaluated rows for transfer: refused before anything runs.
    const bad = resolveScenario({ ...tinyScenario, evalSubset: 40, finalAttacks: ['clean', 'transfer-D'] });
    let err: unknown;
    await runSimulation({ scenario: bad, runDir: tinyRunDir('suite-bad'), data: tinyData, backend: 'wasm', log: () => undefined }).catch((e: unknown) => (err = e));
    expect(String(err)).to.match(/evalSubset ≤ 30/);
    const out = path.join(path.dirname(runDir), 'report');
    await buildReport([runDir], out);
    const md = readFileSync(path.join(out, 'report.md'), 'utf8');
    expect(md).to.match(/AutoAttack \(apgd-ce → apgd-t → fab-t → square\)/);
    expect(md).to.match(/transfer from D/);
    expect(md).to.match(/after apgd-t/);
    expect(readdirSync(out)).to.include('report.html');
  });
});
