/**
 * The adaptive attacks and Inf (threats-and-evaluation.md §3 "Adaptive attacks", §10 item 8) on fixed, seeded
 * inputs: Opt-ALIE and Opt-IPM do at least as much damage (‖aggregate − honest mean‖₂, the aggregate computed by
 * server/robust-aggregators.ts) as the fixed-strength ALIE and IPM against the median, the trimmed mean and Krum;
 * Mimic's corrupted updates are bit for bit an honest client's; Inf crosses the wire as the largest finite float32
 * and is bounded by the robust rules, while a literal ∞ is refused by the wire validation.
 */
import { expect } from 'chai';
import { Rng } from '../shared/util/random.js';
import type { AggregationConfig } from '../shared/federated/aggregation.js';
import { aggregatePlaintext, combineAcross, splitGroups } from '../server/robust-aggregators.js';
import { f32FromWire, toWire } from '../shared/protocol/wire.js';
import { ProtocolError } from '../shared/protocol/errors.js';
import { expectConfigError } from './helpers/errors.js';
import {
  AdaptiveAdversary,
  BEHAVIOR_DEFAULTS,
  MAX_FLOAT32,
  MimicTracker,
  behaviorKindOf,
  forecastAggregate,
  maximizeStrength,
  needsHonestUpdates,
  optimizeStrength,
  parseAnyBehavior,
  parseBehavior,
  parseCorruption,
  registerBehavior,
  poisonBvaSupported,
  transformBvaContribution,
  transformUpdate,
  type AdaptiveRound,
  type BehaviorSpec,
  type MimicSpec,
  type OptAlieSpec,
  type OptIpmSpec,
} from '../simulations/behaviors/index.js';

/** n_h seeded honest updates of length d: a common drift plus per-client noise (heterogeneous scales). */
function honestUpdates(nh: number, d: number, seed: number): Float32Array[] {
  const rng = new Rng(seed);
  const drift = Float64Array.from({ length: d }, () => rng.normal(0.05, 0.02));
  return Array.from({ length: nh }, (_, i) => Float32Array.from({ length: d }, (_, j) => drift[j]! + rng.normal(0, 0.01 * (1 + (i % 3)))));
}

const ids = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(2, '0')}`);

function meanOf(vs: readonly ArrayLike<number>[]): Float64Array {
  const out = new Float64Array(vs[0]!.length);
  for (const v of vs) for (let j = 0; j < out.length; j++) out[j] += v[j]! / vs.length;
  return out;
}

function dist(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += (a[j]! - b[j]!) ** 2;
  return Math.sqrt(s);
}

/** The damage of sending `v` from f clients: ‖rule(honest ∪ f·v) − mean(honest)‖₂, straight through aggregatePlaintext. */
function damage(rule: AggregationConfig, honest: readonly Float32Array[], v: Float32Array, f: number): number {
  const agg = aggregatePlaintext(rule, [...honest, ...Array.from({ length: f }, () => v)]).update;
  return dist(agg, meanOf(honest));
}

const bitEqual = (a: Float32Array, b: Float32Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/**
 * The rules, and where on these inputs the optimised attack strictly beats the fixed default (measured: against
 * the median ALIE's vector is past every honest value already at z = 1.5, a plateau; against Krum no IPM vector
 * gets selected, so every ε does the damage of Krum's honest pick).
 */
const RULES: { name: string; rule: AggregationConfig; strictlyAlie: boolean; strictlyIpm: boolean }[] = [
  { name: 'median', rule: { rule: 'median' }, strictlyAlie: false, strictlyIpm: true },
  { name: 'trimmed mean (β = 0.2)', rule: { rule: 'trimmed-mean', beta: 0.2 }, strictlyAlie: true, strictlyIpm: true },
  { name: 'Krum (f = 2)', rule: { rule: 'krum', f: 2 }, strictlyAlie: true, strictlyIpm: false },
];

describe('adaptive attacks and Inf (threats-and-evaluation.md §3)', () => {
  describe('specs', () => {
    it('fill their defaults, each parameter with its range', () => {
      expect(parseBehavior({ kind: 'mimic' })).to.deep.equal({ kind: 'mimic', warmup: 1 });
      expect(parseBehavior({ kind: 'opt-alie' })).to.deep.equal({ kind: 'opt-alie', zMax: 10, evals: 24 });
      expect(parseBehavior({ kind: 'opt-ipm' })).to.deep.equal({ kind: 'opt-ipm', epsMax: 100, evals: 24 });
      expect(parseBehavior({ kind: 'inf' })).to.deep.equal({ kind: 'inf', value: 'max-float' });
      expect(parseBehavior({ kind: 'inf', value: 'infinity' })).to.deep.equal({ kind: 'inf', value: 'infinity' });
      expect(parseBehavior({ kind: 'inf', value: 1e6 })).to.deep.equal({ kind: 'inf', value: 1e6 });
      expect(BEHAVIOR_DEFAULTS['opt-alie']).to.deep.equal({ zMax: 10, evals: 24 });
    });

    it('refuse out-of-range parameters, naming the field', () => {
      expectConfigError(() => parseBehavior({ kind: 'mimic', warmup: 0 }), ['corrupted.behavior.warmup'], /integer in \[1, 1000000\]/);
      expectConfigError(() => parseBehavior({ kind: 'mimic', warmup: 1.5 }), ['corrupted.behavior.warmup']);
      expectConfigError(() => parseBehavior({ kind: 'opt-alie', zMax: 0 }), ['corrupted.behavior.zMax'], /> 0/);
      expectConfigError(() => parseBehavior({ kind: 'opt-alie', evals: 3 }), ['corrupted.behavior.evals'], /\[4, 1000\]/);
      expectConfigError(() => parseBehavior({ kind: 'opt-ipm', epsMax: -1 }), ['corrupted.behavior.epsMax']);
      expectConfigError(() => parseBehavior({ kind: 'opt-ipm', z: 1 }), ['corrupted.behavior.z'], /not a known field/);
      expectConfigError(() => parseBehavior({ kind: 'inf', value: 0 }), ['corrupted.behavior.value']);
      expectConfigError(() => parseBehavior({ kind: 'inf', value: 'nan' }), ['corrupted.behavior.value'], /max-float/);
    });

    it('are update attacks; the adaptive ones need the honest updates; none poisons the BV statistics', () => {
      for (const kind of ['mimic', 'opt-alie', 'opt-ipm', 'inf'] as const) {
        const b = parseBehavior({ kind });
        expect(behaviorKindOf(b), kind).to.equal('update');
        expect(needsHonestUpdates(b), kind).to.equal(kind !== 'inf');
        expect(poisonBvaSupported(b), kind).to.equal(false);
        expectConfigError(() => parseCorruption({ fraction: 0.2, behavior: { kind }, poisonBva: true }), ['corrupted.poisonBva', 'corrupted.behavior.kind']);
        expect(() => transformBvaContribution(b, [new Float32Array(2)], new Rng(1))).to.throw(/poisonBva/);
      }
    });
  });

  describe('maximizeStrength', () => {
    it('finds the maximum of a smooth unimodal objective within the budget', () => {
      let calls = 0;
      const r = maximizeStrength(
        (x) => {
          calls++;
          return -((x - 3.3) ** 2);
        },
        { max: 10, evals: 24, fixed: 1.5 },
      );
      expect(calls).to.equal(r.evaluations).and.to.be.at.most(24);
      expect(r.factor).to.be.closeTo(3.3, 0.02);
    });

    it('always evaluates the fixed point and 0, keeps the best seen (ties to the smaller) and ends at max for a growing objective', () => {
      const seen: number[] = [];
      const spike = maximizeStrength(
        (x) => {
          seen.push(x);
          return x === 1.5 ? 1 : 0;
        },
        { max: 10, evals: 8, fixed: 1.5 },
      );
      expect(seen).to.include.members([0, 1.5, 10]);
      expect(spike).to.include({ factor: 1.5, value: 1 });
      expect(maximizeStrength(() => 7, { max: 10, evals: 8, fixed: 1.5 })).to.include({ factor: 0, value: 7 });
      expect(maximizeStrength((x) => x, { max: 100, evals: 16, fixed: 0.1 })).to.include({ factor: 100, value: 100 });
    });

    it('reports no strength when every evaluation throws', () => {
      const r = maximizeStrength(
        () => {
          throw new Error('undefined rule');
        },
        { max: 10, evals: 6, fixed: 1.5 },
      );
      expect(r.factor).to.equal(undefined);
      expect(r.evaluations).to.be.at.most(6);
    });
  });

  describe('Opt-ALIE and Opt-IPM against fixed-strength ALIE and IPM (m = 10, f = 2, d = 200, seeded)', () => {
    const honest = honestUpdates(8, 200, 2026);
    const round: AdaptiveRound = { round: 1, honest, honestIds: ids('h', 8), corruptedIds: ids('c', 2) };
    const fixedCtx = { m: 10, f: 2, honest, rng: new Rng(1) };
    const alie = (z: number): Float32Array => transformUpdate(parseBehavior({ kind: 'alie', z }), honest[0]!, fixedCtx);
    const ipm = (eps: number): Float32Array => transformUpdate(parseBehavior({ kind: 'ipm', eps }), honest[0]!, fixedCtx);
    const optAlie = parseBehavior({ kind: 'opt-alie' }) as OptAlieSpec;
    const optIpm = parseBehavior({ kind: 'opt-ipm' }) as OptIpmSpec;

    for (const { name, rule, strictlyAlie, strictlyIpm } of RULES) {
      it(`${name}: Opt-ALIE's damage ≥ ALIE's at z ∈ {0.5, 1, 1.5, 3}; Opt-IPM's ≥ IPM's at ε ∈ {0.1, 1, 100}`, () => {
        const oa = optimizeStrength(optAlie, rule, round, 1);
        const oi = optimizeStrength(optIpm, rule, round, 1);
        // The forecast is the rule's real output: recomputed independently through aggregatePlaintext.
        expect(damage(rule, honest, oa.update, 2)).to.be.closeTo(oa.distance!, 1e-9);
        expect(damage(rule, honest, oi.update, 2)).to.be.closeTo(oi.distance!, 1e-9);
        expect(oa.evaluations).to.be.at.most(24);
        for (const z of [0.5, 1, 1.5, 3]) expect(oa.distance!, `z = ${z}`).to.be.at.least(damage(rule, honest, alie(z), 2));
        for (const eps of [0.1, 1, 100]) expect(oi.distance!, `ε = ${eps}`).to.be.at.least(damage(rule, honest, ipm(eps), 2));
        // …and strictly more than the fixed defaults (z = 1.5, ε = 0.1) where the objective is not flat there.
        if (strictlyAlie) expect(oa.distance!).to.be.above(damage(rule, honest, alie(1.5), 2) * 1.05);
        if (strictlyIpm) expect(oi.distance!).to.be.above(damage(rule, honest, ipm(0.1), 2) * 1.01);
      });
    }

    it('the mean: the damage grows without bound, so the search ends at zMax / epsMax', () => {
      expect(optimizeStrength(optAlie, { rule: 'mean' }, round, 1).factor).to.equal(10);
      expect(optimizeStrength({ ...optIpm, epsMax: 50 }, { rule: 'mean' }, round, 1).factor).to.equal(50);
    });

    it('a rule undefined for the round (Krum with m ≤ 2f + 2) falls back to the fixed default strength', () => {
      const c = optimizeStrength(optAlie, { rule: 'krum', f: 4 }, round, 1);
      expect(c).to.include({ factor: 1.5, fellBack: true });
      expect(bitEqual(c.update, alie(1.5))).to.equal(true);
    });

    it("grouped: the forecast is the coordinator's seeded split, group means and combineAcross", () => {
      const rule: AggregationConfig = { rule: 'grouped', groups: 3, across: 'median', beta: 0.2 };
      const v = alie(2);
      const byId = new Map<string, Float32Array>([...round.honestIds.map((id, i) => [id, honest[i]!] as const), ...round.corruptedIds.map((id) => [id, v] as const)]);
      const groups = splitGroups(7, 1, [...byId.keys()], 3);
      const expected = combineAcross(
        'median',
        groups.map((g) => Float32Array.from(meanOf(g.map((id) => byId.get(id)!)))),
        0.2,
      );
      expect(bitEqual(forecastAggregate(rule, round, v, 7), expected)).to.equal(true);
      const c = optimizeStrength(optAlie, rule, round, 7);
      expect(c.distance!).to.be.at.least(dist(expected, meanOf(honest)));
    });

    it('through transformUpdate: every corrupted client of a round sends the same vector, computed once', () => {
      const adversary = new AdaptiveAdversary({ rule: 'median' }, 1);
      const ctx = { ...fixedCtx, adaptive: adversary, round: 3, honestIds: round.honestIds, corruptedIds: round.corruptedIds };
      const a = transformUpdate(optAlie, honest[0]!, ctx);
      const b = transformUpdate(optAlie, honest[5]!, ctx);
      expect(bitEqual(a, b)).to.equal(true);
      expect(bitEqual(a, optimizeStrength(optAlie, { rule: 'median' }, { ...round, round: 3 }, 1).update)).to.equal(true);
      expect(adversary.record(3)).to.include({ kind: 'opt-alie' }).and.to.have.property('factor');
      expect(adversary.record(3)).to.not.have.property('update');
      adversary.endRound(3);
      expect(adversary.record(3)).to.equal(undefined);
      expect(() => transformUpdate(optAlie, honest[0]!, fixedCtx)).to.throw(/adaptive adversary/);
    });
  });

  it('a registered behaviour that needs the honest updates can forecast the aggregate of the rule in use (ctx.adaptive)', () => {
    const honest = honestUpdates(8, 20, 3);
    registerBehavior('adaptive-test-forecast', {
      needsHonestUpdates: true,
      transformUpdate(update, _options, ctx) {
        const r = { round: ctx.round!, honest: ctx.honest!, honestIds: ctx.honestIds!, corruptedIds: ctx.corruptedIds! };
        // Send whichever of ±5·update moves the forecast aggregate further from the honest mean.
        const plus = Float32Array.from(update, (x) => 5 * x);
        const minus = Float32Array.from(update, (x) => -5 * x);
        const mean = meanOf(ctx.honest!);
        return dist(ctx.adaptive!.forecast(r, plus), mean) >= dist(ctx.adaptive!.forecast(r, minus), mean) ? plus : minus;
      },
    });
    const spec = parseAnyBehavior({ kind: 'adaptive-test-forecast' });
    const adversary = new AdaptiveAdversary({ rule: 'mean' }, 1);
    const out = transformUpdate(spec, honest[0]!, { m: 10, f: 2, honest, rng: new Rng(1), adaptive: adversary, round: 1, honestIds: ids('h', 8), corruptedIds: ids('c', 2) });
    // Against the mean, −5·h₀ (opposite to the drift) moves it further than +5·h₀ does.
    expect(out[0]).to.be.closeTo(-5 * honest[0]![0]!, 1e-6);
    expect(adversary.forecast({ round: 1, honest, honestIds: ids('h', 8), corruptedIds: ids('c', 2) }, out)).to.have.length(20);
  });

  describe('Mimic', () => {
    const mimic = parseBehavior({ kind: 'mimic', warmup: 2 }) as MimicSpec;

    it("every corrupted client's update equals, bit for bit, one honest client's update", () => {
      const honest = honestUpdates(8, 100, 5);
      const adversary = new AdaptiveAdversary({ rule: 'median' }, 11);
      const ctx = { m: 10, f: 2, honest, rng: new Rng(1), adaptive: adversary, round: 1, honestIds: ids('h', 8), corruptedIds: ids('c', 2) };
      const sent = [transformUpdate(mimic, honest[0]!, ctx), transformUpdate(mimic, honest[3]!, ctx)];
      const rec = adversary.record(1)!;
      expect(rec).to.include({ kind: 'mimic', phase: 'warmup' });
      const target = ids('h', 8).indexOf(rec.target!);
      expect(target).to.be.at.least(0);
      for (const s of sent) expect(bitEqual(s, honest[target]!)).to.equal(true);
    });

    it('copies the honest client furthest along the top principal direction of the honest updates', () => {
      // Honest updates spread mostly along e₀ (σ = 1) and little along the rest (σ = 0.01): client 4 is planted
      // at +3 along e₀, client 6 at −3 (the authors' argmax is signed, so the direction's sign picks one).
      const rng = new Rng(9);
      const d = 30;
      const honest = Array.from({ length: 8 }, (_, i) => Float32Array.from({ length: d }, (_, j) => (j === 0 ? (i === 4 ? 3 : i === 6 ? -3 : rng.normal(0, 1)) : rng.normal(0, 0.01))));
      const tracker = new MimicTracker(3, new Rng(1));
      const { index, phase } = tracker.choose(honest, ids('h', 8));
      expect(phase).to.equal('warmup');
      const z = tracker.direction()!;
      expect(Math.abs(z[0]!)).to.be.above(0.99);
      expect(index).to.equal(z[0]! > 0 ? 4 : 6);
    });

    it('after the warm-up keeps the target; copies the round’s best when the target is absent (fallback); seeded', () => {
      const rounds = [1, 2, 3, 4].map((r) => honestUpdates(6, 40, 100 + r));
      const run = (seed: number): string[] => {
        const t = new MimicTracker(2, new Rng(seed));
        const out: string[] = [];
        for (const [r, honest] of rounds.entries()) {
          const names = r === 3 ? ids('x', 6) : ids('h', 6); // round 4: a cohort without the earlier clients
          const { index, phase } = t.choose(honest, names);
          out.push(`${phase}:${names[index]}`);
        }
        return out;
      };
      const a = run(3);
      expect(a.map((s) => s.split(':')[0])).to.deep.equal(['warmup', 'warmup', 'fixed', 'fallback']);
      expect(a[2]!.split(':')[1]).to.equal(a[1]!.split(':')[1]);
      expect(a[3]!.split(':')[1]).to.match(/^x/);
      expect(run(3)).to.deep.equal(a);
    });
  });

  describe('Inf', () => {
    const honest = honestUpdates(8, 50, 77);
    const inf = (value: unknown): Float32Array => transformUpdate(parseBehavior({ kind: 'inf', value }), honest[0]!, { m: 10, f: 2, rng: new Rng(1) });

    it('max-float: every coordinate is the largest finite float32, which the wire validation accepts', () => {
      const v = inf('max-float');
      expect(MAX_FLOAT32).to.equal(new Float32Array([3.4028234663852886e38])[0]);
      expect(Array.from(v).every((x) => x === MAX_FLOAT32)).to.equal(true);
      // What a plaintext client uploads: w = w_t + Δ, still finite.
      const w = Float32Array.from(v, (x, j) => x + honest[1]![j]!);
      expect(bitEqual(f32FromWire(toWire(w), 'weights', w.length), w)).to.equal(true);
    });

    it('infinity: a literal +∞, which the wire validation refuses (the reply is rejected)', () => {
      const v = inf('infinity');
      expect(v[0]).to.equal(Infinity);
      let err: unknown;
      try {
        f32FromWire(toWire(v), 'round:train reply.weights', v.length);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(ProtocolError);
      expect((err as Error).message).to.match(/values must be finite/);
    });

    it('the robust rules bound it (f = 2 of m = 10): the aggregate stays inside the honest range; norm clipping at τ; the mean does not', () => {
      const v = inf('max-float');
      const lo = Float64Array.from({ length: 50 }, (_, j) => Math.min(...honest.map((h) => h[j]!)));
      const hi = Float64Array.from({ length: 50 }, (_, j) => Math.max(...honest.map((h) => h[j]!)));
      const updates = [...honest, v, v];
      for (const rule of [{ rule: 'median' }, { rule: 'trimmed-mean', beta: 0.2 }, { rule: 'krum', f: 2 }, { rule: 'multi-krum', f: 2 }] as AggregationConfig[]) {
        const agg = aggregatePlaintext(rule, updates).update;
        for (let j = 0; j < 50; j++) expect(agg[j]!, `${rule.rule} coordinate ${j}`).to.be.within(lo[j]!, hi[j]!);
      }
      const clipped = aggregatePlaintext({ rule: 'norm-clip', tau: 1 }, updates).update;
      expect(Math.sqrt(clipped.reduce((s, x) => s + x * x, 0))).to.be.at.most(1 + 1e-6);
      const mean = aggregatePlaintext({ rule: 'mean' }, updates).update;
      expect(Array.from(mean).every((x) => Number.isFinite(x) && x > 1e37)).to.equal(true);
    });
  });

  it('every new kind is a built-in behaviour spec', () => {
    const specs: BehaviorSpec[] = ['mimic', 'opt-alie', 'opt-ipm', 'inf'].map((kind) => parseBehavior({ kind }));
    expect(specs.map((s) => s.kind)).to.deep.equal(['mimic', 'opt-alie', 'opt-ipm', 'inf']);
  });
});
