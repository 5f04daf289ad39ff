/**
 * The adaptive attacks and Inf end to end through the real engine (threats-and-evaluation.md §3 "Adaptive
 * attacks", §10 item 8): a real coordinator, real client sessions over socket.io, a pool of one worker, the tiny
 * plaintext federation (6 clients, softmax regression on synthetic data), 1–2 rounds each. Each run completes,
 * and rounds.jsonl records what the attack decided (`adversary`); Inf's largest finite float is bounded by the
 * median, and a literal ∞ is refused at the coordinator's wire validation.
 */
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../shared/compute/backend.js';
import { resolveScenario } from '../simulations/scenario.js';
import { runSimulation, type SimRoundRecord, type SimulationResult } from '../simulations/engine.js';
import { tinyData, tinyRunDir, tinyScenario, TINY_CLIENTS } from './helpers/tiny-federation.js';

interface Run {
  result: SimulationResult;
  rounds: SimRoundRecord[];
  fileRounds: SimRoundRecord[];
}

async function simulate(extra: Record<string, unknown>): Promise<Run> {
  const rounds: SimRoundRecord[] = [];
  const result = await runSimulation({
    scenario: resolveScenario({ ...tinyScenario, secure: false, ...extra }),
    runDir: tinyRunDir('adaptive'),
    data: tinyData,
    backend: 'wasm',
    onRound: (r) => rounds.push(r),
    log: () => undefined,
  });
  const fileRounds = readFileSync(path.join(result.runDir, 'rounds.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as SimRoundRecord);
  return { result, rounds, fileRounds };
}

function completed(run: Run, rounds: number): void {
  expect(run.rounds).to.have.length(rounds);
  for (const r of run.rounds) expect(r.status, `round ${r.round}`).to.equal('completed');
  expect(existsSync(path.join(run.result.runDir, 'results.json'))).to.equal(true);
  expect(run.fileRounds).to.deep.equal(JSON.parse(JSON.stringify(run.rounds)));
}

const maxAbs = (w: Float32Array): number => w.reduce((a, v) => Math.max(a, Math.abs(v)), 0);

describe('adaptive attacks and Inf through the engine', function () {
  this.timeout(120000);

  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
  });

  it('opt-alie against the median: the round completes and records the z chosen and the forecast distance', async () => {
    const run = await simulate({ aggregation: { rule: 'median' }, corrupted: { fraction: 0.34, behavior: { kind: 'opt-alie' } } });
    completed(run, 1);
    const r = run.rounds[0]!;
    expect(r.corrupted).to.have.length(2);
    expect(r.adversary).to.include({ kind: 'opt-alie' });
    expect(r.adversary!.factor).to.be.within(0, 10);
    expect(r.adversary!.distance).to.be.above(0);
    expect(r.adversary!.evaluations).to.be.within(4, 24);
    const scenario = JSON.parse(readFileSync(path.join(run.result.runDir, 'scenario.json'), 'utf8')) as { corrupted: unknown };
    expect(scenario.corrupted).to.deep.include({ behavior: { kind: 'opt-alie', zMax: 10, evals: 24 } });
    const results = JSON.parse(readFileSync(path.join(run.result.runDir, 'results.json'), 'utf8')) as { adversary: unknown };
    expect(results.adversary).to.deep.equal([{ round: 1, ...r.adversary }]);
  });

  it('opt-ipm against Krum (f = 1): the round completes and records the ε chosen', async () => {
    const run = await simulate({ aggregation: { rule: 'krum', f: 1 }, corrupted: { fraction: 0.2, behavior: { kind: 'opt-ipm', epsMax: 50, evals: 12 } } });
    completed(run, 1);
    const r = run.rounds[0]!;
    expect(r.corrupted).to.have.length(1);
    expect(r.adversary).to.include({ kind: 'opt-ipm' });
    expect(r.adversary!.factor).to.be.within(0, 50);
    expect(r.adversary!.evaluations).to.be.at.most(12);
    expect(r.robust?.selected).to.have.length(1);
  });

  it('mimic against the trimmed mean: copies an honest client during the warm-up, then keeps it (or falls back)', async () => {
    const run = await simulate({ rounds: 2, aggregation: { rule: 'trimmed-mean' }, corrupted: { fraction: 0.34, behavior: { kind: 'mimic', warmup: 1 } } });
    completed(run, 2);
    const [r1, r2] = run.rounds as [SimRoundRecord, SimRoundRecord];
    expect(r1.adversary).to.include({ kind: 'mimic', phase: 'warmup' });
    expect(r1.corrupted).to.not.include(r1.adversary!.target);
    expect(r2.adversary!.phase).to.be.oneOf(['fixed', 'fallback']);
    expect(r2.corrupted).to.not.include(r2.adversary!.target);
    if (!r2.corrupted.includes(r1.adversary!.target!)) expect(r2.adversary).to.include({ phase: 'fixed', target: r1.adversary!.target });
    expect(run.result.adversary?.map((a) => a.round)).to.deep.equal([1, 2]);
  });

  it('inf (max-float) against the median: two rounds complete and the weights stay finite and small', async () => {
    const run = await simulate({ rounds: 2, aggregation: { rule: 'median' }, corrupted: { fraction: 0.34, behavior: { kind: 'inf' } } });
    completed(run, 2);
    for (const r of run.rounds) {
      expect(r.corrupted).to.have.length(2);
      expect(r.trained).to.equal(TINY_CLIENTS);
      expect(r.adversary).to.equal(undefined);
    }
    const w = run.result.weights!;
    expect(w.every((v) => Number.isFinite(v))).to.equal(true);
    expect(maxAbs(w)).to.be.below(10);
    expect(run.result.final.accuracy['clean']).to.be.a('number');
  });

  it('inf (max-float) against the plain mean: round 1 moves the weights to ~1e38, later rounds abort at train (no finite update left)', async () => {
    const run = await simulate({ rounds: 2, aggregation: { rule: 'mean' }, corrupted: { fraction: 0.34, behavior: { kind: 'inf' } } });
    expect(run.rounds.map((r) => r.status)).to.deep.equal(['completed', 'aborted']);
    expect(run.rounds[1]!.abort).to.include({ stage: 'train' });
    const w = run.result.weights!;
    expect(w.every((v) => Number.isFinite(v))).to.equal(true);
    expect(maxAbs(w)).to.be.above(1e37);
  });

  it('inf (max-float) under secure aggregation: the client quantiser clips it to [−c, c], so the mean moves each weight by at most about f/m·c', async () => {
    const run = await simulate({ secure: true, aggregation: { rule: 'mean' }, corrupted: { fraction: 0.2, behavior: { kind: 'inf' } } });
    completed(run, 1);
    const w = run.result.weights!;
    expect(w.every((v) => Number.isFinite(v))).to.equal(true);
    // One of 6 clients at c = 8 in every coordinate: about 8/6 on top of the honest step.
    expect(maxAbs(w)).to.be.within(1, 3);
  });

  it('inf (infinity): the coordinator refuses the non-finite reply, and the round goes on without that client', async () => {
    const run = await simulate({ aggregation: { rule: 'mean' }, corrupted: { fraction: 0.2, behavior: { kind: 'inf', value: 'infinity' } } });
    completed(run, 1);
    const r = run.rounds[0]!;
    expect(r.corrupted).to.have.length(1);
    expect(r.trained).to.equal(TINY_CLIENTS - 1);
    const w = run.result.weights!;
    expect(w.every((v) => Number.isFinite(v))).to.equal(true);
    expect(maxAbs(w)).to.be.below(10);
  });
});
