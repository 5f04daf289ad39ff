/**
 * The coordinator's aggregation rules end to end (threats-and-evaluation.md §4, §5): plaintext robust rules
 * (refused with secure aggregation at construction, robust against a sign-flipping client, recording what they
 * learnt about the updates) and grouped secure aggregation (group sizes and survivors, robustness across groups,
 * groups dropped below their threshold, too few groups aborting the round). Corrupted clients come from the
 * simulation engine (real coordinator, real client sessions, one pool worker). No sleeps and no wall-clock
 * timeouts: silent crashes and stragglers (an injected sleep that never ends) hit the coordinator's own stage
 * deadlines, held until every other client has answered (helpers/held-deadlines.ts).
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../shared/compute/backend.js';
import { initialWeights, modelSpec } from '../shared/models/model.js';
import { ConfigError } from '../shared/federated/errors.js';
import { clientIdOf } from '../shared/federated/secure-model.js';
import { Coordinator } from '../server/coordinator.js';
import { splitGroups } from '../server/robust-aggregators.js';
import { corruptedInRound } from '../simulations/behaviors/index.js';
import { resolveScenario } from '../simulations/scenario.js';
import { runSimulation, type SimRoundRecord, type SimulationResult } from '../simulations/engine.js';
import { startFederation } from './helpers/federation.js';
import { HELD_MS, HeldDeadlines } from './helpers/held-deadlines.js';
import { tinyData, tinyRunDir, tinyScenario, TINY_SEED } from './helpers/tiny-federation.js';

const data = tinyData;
const SEED = TINY_SEED;
const base = tinyScenario;
const tmp = (): string => tinyRunDir('agg');
const initial = (seed: number): Float32Array => initialWeights(modelSpec('linear', [data.train.height, data.train.width, data.train.channels], data.train.numClasses), seed);
const w0 = initial(SEED);
const never = (): Promise<void> => new Promise<void>(() => undefined);

interface Run {
  result: SimulationResult;
  rounds: SimRoundRecord[];
  w: Float32Array;
  /** The coordinator's own per-round metrics (they name the cohort's ids). */
  metrics: { cohort: string[]; dropouts: number }[];
}

/** Runs a scenario; with `held`, the stage whose timeout is HELD_MS expires once its non-answering clients are all that is left. */
async function simulate(extra: Record<string, unknown>, held?: HeldDeadlines): Promise<Run> {
  const rounds: SimRoundRecord[] = [];
  const run = (): Promise<SimulationResult> =>
    runSimulation({
      scenario: resolveScenario({ ...base, ...extra }),
      runDir: tmp(),
      data,
      backend: 'wasm',
      onRound: (r) => rounds.push(r),
      log: () => undefined,
      ...(held !== undefined ? { sleep: never, onWithhold: () => held.withhold(), deadlines: held } : {}),
    });
  const result = await run();
  const metrics = readFileSync(path.join(result.runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Run['metrics'][number]);
  return { result, rounds, w: result.weights!, metrics };
}

/** ‖a − b‖₂. */
function dist(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).to.equal(b.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s);
}
const bitEqual = (a: Float32Array, b: Float32Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

const signFlip100 = (fraction: number): Record<string, unknown> => ({ corrupted: { fraction, behavior: { kind: 'sign-flip', s: 100 } } });

describe('coordinator aggregation: plaintext robust rules and grouped secure aggregation', function () {
  this.timeout(120000);
  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
  });

  describe('configuration', () => {
    const plaintextRules: Record<string, unknown>[] = [{ rule: 'median' }, { rule: 'trimmed-mean' }, { rule: 'krum', f: 1 }, { rule: 'multi-krum', f: 1 }, { rule: 'norm-clip' }];

    it('a plaintext rule with secure aggregation is a ConfigError naming both fields, at construction', () => {
      for (const aggregation of plaintextRules) {
        let caught: unknown;
        try {
          new Coordinator({
            federated: { method: 'fedavg', model: 'linear', numClients: 6, fraction: 1, seed: SEED },
            data,
            secure: true,
            aggregation,
            tokens: new Set(['t']),
            runDir: tmp(),
            log: () => undefined,
          });
        } catch (err) {
          caught = err;
        }
        expect(caught, JSON.stringify(aggregation)).to.be.instanceOf(ConfigError);
        expect((caught as ConfigError).fields).to.deep.equal(['aggregation.rule', 'secure']);
        expect((caught as ConfigError).message).to.include(`'${aggregation['rule'] as string}'`);
      }
      // secure defaults to true: leaving it out is refused the same way.
      expect(() => new Coordinator({ federated: { method: 'fedavg', numClients: 6, seed: SEED }, data, aggregation: { rule: 'median' }, tokens: new Set(['t']), runDir: tmp(), log: () => undefined }))
        .to.throw(ConfigError)
        .with.property('fields')
        .that.deep.equals(['aggregation.rule', 'secure']);
      // The reverse: grouped needs secure aggregation.
      expect(
        () =>
          new Coordinator({
            federated: { method: 'fedavg', numClients: 6, seed: SEED },
            data,
            secure: false,
            aggregation: { rule: 'grouped', groups: 2 },
            tokens: new Set(['t']),
            runDir: tmp(),
            log: () => undefined,
          }),
      )
        .to.throw(ConfigError)
        .with.property('fields')
        .that.deep.equals(['aggregation.rule', 'secure']);
    });

    it('the refusal comes before any client connects (federation helper and scenario files alike)', async () => {
      let caught: unknown;
      try {
        // startFederation builds the coordinator first and connects clients only after it listens.
        const fed = await startFederation(data, { method: 'fedavg', model: 'linear', numClients: 6, seed: SEED, sharedSetSize: 8 }, { secure: true, aggregation: { rule: 'krum', f: 1 } });
        await fed.close();
      } catch (err) {
        caught = err;
      }
      expect(caught).to.be.instanceOf(ConfigError);
      expect((caught as ConfigError).fields).to.deep.equal(['aggregation.rule', 'secure']);
      expect(() => resolveScenario({ ...base, secure: true, aggregation: { rule: 'median' } }))
        .to.throw(ConfigError)
        .with.property('fields')
        .that.deep.equals(['aggregation.rule', 'secure']);
    });

    it('the same rules construct in plaintext, and grouped constructs in secure mode', async () => {
      for (const aggregation of plaintextRules) {
        const c = new Coordinator({
          federated: { method: 'fedavg', model: 'linear', numClients: 6, fraction: 1, seed: SEED },
          data,
          secure: false,
          aggregation,
          tokens: new Set(['t']),
          runDir: tmp(),
          log: () => undefined,
        });
        expect(c.aggregation.rule).to.equal(aggregation['rule']);
        await c.close();
      }
      const g = new Coordinator({
        federated: { method: 'fedavg', model: 'linear', numClients: 6, fraction: 1, seed: SEED },
        data,
        secure: true,
        aggregation: { rule: 'grouped', groups: 2 },
        tokens: new Set(['t']),
        runDir: tmp(),
        log: () => undefined,
      });
      expect(g.aggregation).to.deep.equal({ rule: 'grouped', groups: 2, across: 'median', beta: 0.2, minGroups: 1 });
      await g.close();
    });
  });

  describe('plaintext robust rules against one sign-flip client (s = 100)', () => {
    let meanHonest: Run;
    let meanCorrupted: Run;
    let shiftMean: number;
    before(async () => {
      meanHonest = await simulate({});
      meanCorrupted = await simulate(signFlip100(0.2));
      shiftMean = dist(meanCorrupted.w, meanHonest.w);
    });

    it('mean moves far: the corrupted client drags w by (s + 1)·Δ_c/m', () => {
      expect(meanCorrupted.rounds[0]!.corrupted).to.have.length(1);
      // An honest round moves w by ‖w_H − w₀‖; the attack moves it many times that.
      expect(shiftMean).to.be.greaterThan(5 * dist(meanHonest.w, w0));
      expect(meanCorrupted.rounds[0]!.robust).to.equal(undefined);
    });

    it('coordinate-wise median stays close to the honest run (and trimmed mean with b = 1 too)', async () => {
      const honest = await simulate({ aggregation: { rule: 'median' } });
      const corrupted = await simulate({ aggregation: { rule: 'median' }, ...signFlip100(0.2) });
      expect(corrupted.rounds[0]).to.include({ status: 'completed', trained: 6, survivors: 6 });
      expect(corrupted.rounds[0]!.corrupted).to.deep.equal(meanCorrupted.rounds[0]!.corrupted);
      const shift = dist(corrupted.w, honest.w);
      expect(shift).to.be.lessThan(0.05 * shiftMean);
      expect(shift).to.be.lessThan(0.5 * dist(honest.w, w0));
      // The median of the honest run is itself a fair aggregate: close to the honest mean.
      expect(dist(honest.w, meanHonest.w)).to.be.lessThan(0.5 * dist(meanHonest.w, w0));

      const trimmed = await simulate({ aggregation: { rule: 'trimmed-mean', trim: 1 }, ...signFlip100(0.2) });
      expect(dist(trimmed.w, meanHonest.w)).to.be.lessThan(0.05 * shiftMean);
    });

    it('krum records the selected client (an honest one) and multi-krum the m − f it kept', async () => {
      const krum = await simulate({ aggregation: { rule: 'krum', f: 1 }, ...signFlip100(0.2) });
      const r = krum.rounds[0]!;
      expect(r.status).to.equal('completed');
      const cohort = krum.metrics[0]!.cohort;
      expect(cohort).to.have.length(6);
      expect(r.robust).to.not.equal(undefined);
      expect(r.robust!.selected).to.have.length(1);
      expect(cohort).to.include(r.robust!.selected![0]);
      expect(r.robust!.selected).to.not.include(r.corrupted[0]);
      expect(r.robust!.clippedFraction).to.equal(undefined);
      expect(dist(krum.w, meanHonest.w)).to.be.lessThan(0.05 * shiftMean);

      const multi = await simulate({ aggregation: { rule: 'multi-krum', f: 1 }, ...signFlip100(0.2) });
      const mr = multi.rounds[0]!;
      expect(mr.robust!.selected).to.deep.equal(multi.metrics[0]!.cohort.filter((id) => id !== mr.corrupted[0]));
      expect(dist(multi.w, meanHonest.w)).to.be.lessThan(0.05 * shiftMean);
    });

    it('norm-clip records the clipped fraction (median τ clips half; a huge τ none; a tiny τ all)', async () => {
      const median = await simulate({ aggregation: { rule: 'norm-clip' }, ...signFlip100(0.2) });
      expect(median.rounds[0]!.robust).to.deep.equal({ clippedFraction: 0.5 });
      // The flipped update (norm 100·‖Δ_c‖) is clipped to the median norm, so w stays near the honest mean.
      expect(dist(median.w, meanHonest.w)).to.be.lessThan(0.05 * shiftMean);

      const huge = await simulate({ aggregation: { rule: 'norm-clip', tau: 1e6 } });
      expect(huge.rounds[0]!.robust).to.deep.equal({ clippedFraction: 0 });
      // Nothing clipped: the mean of the updates, w₀ + ΣΔ/m, equals the plain mean up to float rounding.
      expect(dist(huge.w, meanHonest.w)).to.be.lessThan(1e-5);

      const tiny = await simulate({ aggregation: { rule: 'norm-clip', tau: 1e-9 } });
      expect(tiny.rounds[0]!.robust).to.deep.equal({ clippedFraction: 1 });
      expect(dist(tiny.w, w0)).to.be.lessThan(1e-6);
    });

    it('too few updates for Krum after dropouts: the round is recorded as aborted at stage aggregate', async () => {
      // Krum with f = 1 needs m ≥ 2f + 3 = 5 updates; two stragglers that never answer leave 4.
      const run = await simulate(
        { aggregation: { rule: 'krum', f: 1 }, timeoutsMs: { train: HELD_MS }, corrupted: { fraction: 0.34, behavior: { kind: 'straggler', delayMs: 60000 } } },
        new HeldDeadlines(),
      );
      const r = run.rounds[0]!;
      expect(r.corrupted).to.have.length(2);
      expect(r.trained).to.equal(4);
      expect(r.status).to.equal('aborted');
      expect(r.abort).to.deep.include({ stage: 'aggregate', phase: 'krum', needed: 5, got: 4 });
      expect(r.robust).to.equal(undefined);
      expect(run.result.completedRounds).to.equal(0);
      // An aborted round leaves the model as it stood.
      expect(bitEqual(run.w, w0)).to.equal(true);
    });
  });

  describe('grouped secure aggregation', () => {
    it("g = 2 groups of 3 complete, recording each group's size and survivors; the result is the mean within quantisation", async () => {
      const grouped = await simulate({ secure: true, aggregation: { rule: 'grouped', groups: 2 } });
      const plain = await simulate({});
      const r = grouped.rounds[0]!;
      expect(r.status).to.equal('completed');
      expect(r.groups).to.deep.equal([
        { size: 3, survivors: 3 },
        { size: 3, survivors: 3 },
      ]);
      expect(r.survivors).to.equal(6);
      // Two equal groups: the median of two group means is their average, i.e. the cohort's mean update.
      let worst = 0;
      for (let i = 0; i < w0.length; i++) worst = Math.max(worst, Math.abs(grouped.w[i]! - plain.w[i]!));
      expect(worst).to.be.lessThan(1e-5); // quantisation step 2c/R = 16/2^22 ≈ 3.8e-6 per client
    });

    it('g = 3 groups with median across: one sign-flip client (s = 100) in one group leaves the result near honest', async () => {
      const nine = { numClients: 9 };
      const honest = await simulate({ ...nine, secure: true, aggregation: { rule: 'grouped', groups: 3 } });
      const corrupted = await simulate({ ...nine, secure: true, aggregation: { rule: 'grouped', groups: 3 }, ...signFlip100(0.12) });
      const meanHonest = await simulate({ ...nine, secure: true });
      const meanCorrupted = await simulate({ ...nine, secure: true, ...signFlip100(0.12) });
      for (const run of [honest, corrupted]) {
        expect(run.rounds[0]!.status).to.equal('completed');
        expect(run.rounds[0]!.groups).to.deep.equal([
          { size: 3, survivors: 3 },
          { size: 3, survivors: 3 },
          { size: 3, survivors: 3 },
        ]);
      }
      expect(corrupted.rounds[0]!.corrupted).to.have.length(1);
      expect(meanCorrupted.rounds[0]!.corrupted).to.deep.equal(corrupted.rounds[0]!.corrupted);
      const shiftMean = dist(meanCorrupted.w, meanHonest.w);
      expect(shiftMean).to.be.greaterThan(5 * dist(meanHonest.w, w0));
      const shiftGrouped = dist(corrupted.w, honest.w);
      expect(shiftGrouped).to.be.lessThan(0.05 * shiftMean);
      expect(shiftGrouped).to.be.lessThan(0.5 * dist(honest.w, w0));
    });

    // With 3 trained clients only one group of 3 can form, fewer than minGroups = ⌈4/2⌉: the round aborts (recorded),
    // the run goes on.
    it('dropouts leaving too few trained clients for minGroups groups abort the round instead of ending the run', async () => {
      const run = await simulate(
        { numClients: 12, secure: true, aggregation: { rule: 'grouped', groups: 4 }, timeoutsMs: { train: HELD_MS }, corrupted: { fraction: 0.75, behavior: { kind: 'straggler', delayMs: 60000 } } },
        new HeldDeadlines(),
      );
      expect(run.rounds[0]!.trained).to.equal(3);
      expect(run.rounds[0]!.status).to.equal('aborted');
      expect(run.rounds[0]!.abort).to.deep.include({ stage: 'aggregate', phase: 'groups', needed: 2, got: 1 });
    });

    describe('a group whose members crash silently at setup', () => {
      // Two corrupted clients (round(0.34·6) = 2) that land in the same group of 3: that group keeps 1 < t_g = 2.
      const ids = Array.from({ length: 6 }, (_, k) => clientIdOf(k));
      const seed = Array.from({ length: 200 }, (_, s) => s + 1).find((s) => {
        const bad = corruptedInRound(s, 1, ids, 0.34);
        return splitGroups(s, 1, ids, 2).some((g) => [...bad].every((id) => g.includes(id)));
      })!;
      const crash = { seed, secure: true, timeoutsMs: { setup: HELD_MS }, corrupted: { fraction: 0.34, behavior: { kind: 'crash', stage: 'setup', mode: 'silent' } } };
      const expectedGroups = splitGroups(seed, 1, ids, 2).map((g) => ({ size: 3, survivors: g.some((id) => corruptedInRound(seed, 1, ids, 0.34).has(id)) ? 0 : 3 }));

      it('is dropped, and the round completes when minGroups allows (default ⌈g/2⌉ = 1)', async () => {
        const run = await simulate({ ...crash, aggregation: { rule: 'grouped', groups: 2 } }, new HeldDeadlines());
        const r = run.rounds[0]!;
        expect(r.corrupted).to.have.length(2);
        expect(r.trained).to.equal(6);
        expect(r.status).to.equal('completed');
        expect(r.groups).to.deep.equal(expectedGroups);
        expect(r.survivors).to.equal(3);
        expect(bitEqual(run.w, initial(seed))).to.equal(false);
        expect(run.w.every(Number.isFinite)).to.equal(true);
      });

      it('aborts the round, recorded, when fewer than minGroups groups survive', async () => {
        const run = await simulate({ ...crash, aggregation: { rule: 'grouped', groups: 2, minGroups: 2 } }, new HeldDeadlines());
        const r = run.rounds[0]!;
        expect(r.status).to.equal('aborted');
        expect(r.abort).to.include({ phase: 'groups', needed: 2, got: 1 });
        expect(r.abort!.stage).to.be.a('string');
        expect(r.groups).to.deep.equal(expectedGroups);
        expect(r.eval).to.equal(undefined);
        expect(run.result.completedRounds).to.equal(0);
        expect(bitEqual(run.w, initial(seed))).to.equal(true);
      });
    });
  });
});
