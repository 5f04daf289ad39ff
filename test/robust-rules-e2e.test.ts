/**
 * The robust rules end to end through the real coordinator and client sessions (threats-and-evaluation.md §4,
 * §5): FLTrust with the coordinator's root update (server/engine/root-update.ts) against a sign-flipping client,
 * the stateful rules (centered clipping, FoolsGold) over several rounds, a pre-aggregated mean in plaintext, and a
 * robust rule across the group means of grouped secure aggregation. The tiny federation of the other simulation
 * tests: six clients, softmax regression on synthetic data.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../shared/compute/backend.js';
import { initialWeights, modelSpec } from '../shared/models/model.js';
import { resolveConfig } from '../shared/federated/config.js';
import { ConfigError } from '../shared/federated/errors.js';
import { Coordinator } from '../server/coordinator.js';
import { rootUpdateSource, sampleRootSet } from '../server/engine/root-update.js';
import { resolveScenario } from '../simulations/scenario.js';
import { runSimulation, type SimRoundRecord, type SimulationResult } from '../simulations/engine.js';
import { tinyData, tinyRunDir, tinyScenario, TINY_SEED } from './helpers/tiny-federation.js';

const data = tinyData;
const spec = modelSpec('linear', [data.train.height, data.train.width, data.train.channels], data.train.numClasses);
const w0 = initialWeights(spec, TINY_SEED);

interface Run {
  result: SimulationResult;
  rounds: SimRoundRecord[];
  w: Float32Array;
  metrics: { round: number; cohort: string[]; robust?: { weights?: Record<string, number>; selected?: string[] } }[];
}

async function simulate(extra: Record<string, unknown>): Promise<Run> {
  const rounds: SimRoundRecord[] = [];
  const result = await runSimulation({
    scenario: resolveScenario({ ...tinyScenario, ...extra }),
    runDir: tinyRunDir('rules'),
    data,
    backend: 'wasm',
    onRound: (r) => rounds.push(r),
    log: () => undefined,
  });
  const metrics = readFileSync(path.join(result.runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Run['metrics'][number]);
  return { result, rounds, w: result.weights!, metrics };
}

function dist(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s);
}

const signFlip100 = { corrupted: { fraction: 0.2, behavior: { kind: 'sign-flip', s: 100 } } };

describe('robust rules end to end (coordinator, client sessions, root update)', function () {
  this.timeout(240000);
  let meanHonest: Run;
  let meanCorrupted: Run;
  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
    meanHonest = await simulate({});
    meanCorrupted = await simulate(signFlip100);
  });

  it('the root set is fixed by the run seed, and the root update is training on it from w_t', () => {
    const a = sampleRootSet(data.train.count, 50, TINY_SEED);
    expect(Array.from(a)).to.deep.equal(Array.from(sampleRootSet(data.train.count, 50, TINY_SEED)));
    expect(new Set(a).size).to.equal(50);
    expect(Array.from(a)).to.deep.equal([...a].sort((x, y) => x - y));
    const config = resolveConfig({ ...tinyScenario, method: 'fedavg' } as never);
    const root = rootUpdateSource(config, spec, data.train, 50);
    const u1 = root(w0, 1);
    expect(Array.from(u1)).to.deep.equal(Array.from(root(w0, 1)));
    expect(dist(u1, new Float32Array(u1.length))).to.be.greaterThan(0);
    expect(() => sampleRootSet(data.train.count, data.train.count + 1, 1)).to.throw(ConfigError, /aggregation\.rootSize/);
  });

  it('FLTrust gives the sign-flipping client trust 0 and stays near the honest run', async () => {
    const run = await simulate({ aggregation: { rule: 'fltrust', rootSize: 60 }, ...signFlip100 });
    const r = run.rounds[0]!;
    expect(r.status).to.equal('completed');
    const weights = run.metrics[0]!.robust!.weights!;
    expect(Object.keys(weights).sort()).to.deep.equal([...run.metrics[0]!.cohort].sort());
    expect(weights[r.corrupted[0]!]).to.equal(0);
    for (const [id, ts] of Object.entries(weights)) if (id !== r.corrupted[0]) expect(ts, id).to.be.greaterThan(0);
    const shiftMean = dist(meanCorrupted.w, meanHonest.w);
    expect(dist(run.w, meanHonest.w)).to.be.lessThan(0.05 * shiftMean);
  });

  it('MoNNA around the root update, and a mean after NNM, keep the flipped update out', async () => {
    const monna = await simulate({ aggregation: { rule: 'monna', f: 1, rootSize: 60 }, ...signFlip100 });
    expect(monna.metrics[0]!.robust!.selected).to.not.include(monna.rounds[0]!.corrupted[0]);
    expect(monna.metrics[0]!.robust!.selected).to.have.length(5);
    const nnmMean = await simulate({
      aggregation: {
        rule: 'mean',
        pre: [
          { name: 'nnm', f: 1 },
          { name: 'arc', f: 1 },
        ],
      },
      ...signFlip100,
    });
    expect(nnmMean.rounds[0]!.status).to.equal('completed');
    const shiftMean = dist(meanCorrupted.w, meanHonest.w);
    expect(dist(monna.w, meanHonest.w)).to.be.lessThan(0.05 * shiftMean);
    expect(dist(nnmMean.w, meanHonest.w)).to.be.lessThan(0.2 * shiftMean);
  });

  it('centered clipping with a radius that clips nothing is the mean, round after round (its centre carried)', async () => {
    const cc = await simulate({ rounds: 2, aggregation: { rule: 'centered-clipping', tau: 1e6, iterations: 2 } });
    const mean = await simulate({ rounds: 2 });
    expect(cc.rounds.map((r) => r.status)).to.deep.equal(['completed', 'completed']);
    expect(dist(cc.w, mean.w)).to.be.lessThan(1e-5);
  });

  it("FoolsGold records every client's weight α in [0, 1] each round, its histories carried", async () => {
    const fg = await simulate({ rounds: 2, aggregation: { rule: 'foolsgold' } });
    expect(fg.rounds.map((r) => r.status)).to.deep.equal(['completed', 'completed']);
    for (const m of fg.metrics) {
      const alphas = Object.values(m.robust!.weights!);
      expect(alphas).to.have.length(6);
      for (const a of alphas) expect(a).to.be.within(0, 1);
    }
  });

  it('grouped secure aggregation with the geometric median across the group means', async () => {
    const run = await simulate({ numClients: 9, secure: true, aggregation: { rule: 'grouped', groups: 3, across: { rule: 'geometric-median', iterations: 5 } }, ...signFlip100 });
    const r = run.rounds[0]!;
    expect(r.status).to.equal('completed');
    expect(r.groups).to.have.length(3);
    const honest = await simulate({ numClients: 9, secure: true, aggregation: { rule: 'grouped', groups: 3, across: 'median' } });
    expect(dist(run.w, honest.w)).to.be.lessThan(0.5 * dist(honest.w, w0) + 1e-3);
  });

  it('the coordinator refuses FoolsGold across groups and too large a root set, naming the field', () => {
    const opts = { federated: { method: 'fedavg', model: 'linear', numClients: 6, fraction: 1, seed: TINY_SEED }, data, tokens: new Set(['t']), runDir: tinyRunDir('rules'), log: () => undefined };
    expect(() => new Coordinator({ ...opts, secure: true, aggregation: { rule: 'grouped', groups: 2, across: 'foolsgold' } }))
      .to.throw(ConfigError, /history per client identity/)
      .with.property('fields')
      .that.deep.equals(['aggregation.across']);
    expect(() => new Coordinator({ ...opts, secure: false, aggregation: { rule: 'fltrust', rootSize: 100000 } }))
      .to.throw(ConfigError, /rootSize/)
      .with.property('fields')
      .that.deep.equals(['aggregation.rootSize']);
  });
});
