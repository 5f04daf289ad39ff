/**
 * Corrupted-client behaviours (threats-and-evaluation.md §3, §10.1–2): each behaviour on a toy batch or update
 * changes what it should and nothing else; selection, faults and the backdoor success rate are seeded and exact.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../shared/compute/backend.js';
import { Model, modelSpec } from '../shared/models/model.js';
import { Rng } from '../shared/util/random.js';
import { expectConfigError } from './helpers/errors.js';
import {
  alieAutoZ,
  attackSuccessRate,
  BEHAVIOR_KINDS,
  behaviorKindOf,
  corruptedInRound,
  corruptedPopulation,
  crashPlan,
  dataPoisonOf,
  needsHonestUpdates,
  normalQuantile,
  parseBehavior,
  parseCorruption,
  poisonBvaSupported,
  poisonLocalData,
  poisonsData,
  stampTrigger,
  stragglerDelayMs,
  transformBvaContribution,
  transformsUpdate,
  transformUpdate,
  triggerOffsets,
  type BehaviorSpec,
  type LocalData,
  type Trigger,
} from '../simulations/behaviors/index.js';

const f32 = (...xs: number[]) => Float32Array.from(xs);
const arr = (a: ArrayLike<number>) => Array.from(a);

/** n seeded 28×28×1 images in [0, 1) with labels i mod 10. */
function toyLocal(n: number, seed = 7, shape = { height: 28, width: 28, channels: 1 }): LocalData {
  const rng = new Rng(seed);
  const d = shape.height * shape.width * shape.channels;
  const images = Float32Array.from({ length: n * d }, () => rng.float());
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
  return { images, labels, ...shape, numClasses: 10 };
}

const ctx = (extra: Partial<Parameters<typeof transformUpdate>[2]> = {}) => ({ m: 10, f: 2, rng: new Rng(1), ...extra });

describe('corrupted-client behaviours (threats-and-evaluation.md §3)', () => {
  describe('parseBehavior / parseCorruption', () => {
    it('fills the §3 defaults of every kind', () => {
      expect(parseBehavior({ kind: 'label-flip' })).to.deep.equal({ kind: 'label-flip', fraction: 1, map: 'reverse' });
      expect(parseBehavior({ kind: 'gaussian' })).to.deep.equal({ kind: 'gaussian', mu: 0, sigma: 1 });
      expect(parseBehavior({ kind: 'sign-flip' })).to.deep.equal({ kind: 'sign-flip', s: 1, omniscient: false });
      expect(parseBehavior({ kind: 'scale' })).to.deep.equal({ kind: 'scale', gamma: 'cohort', base: 'honest' });
      expect(parseBehavior({ kind: 'scale', S: 2 })).to.deep.equal({ kind: 'scale', gamma: 'cohort', S: 2, base: 'honest' });
      expect(parseBehavior({ kind: 'alie' })).to.deep.equal({ kind: 'alie', z: 1.5 });
      expect(parseBehavior({ kind: 'alie', z: 'auto' })).to.deep.equal({ kind: 'alie', z: 'auto' });
      expect(parseBehavior({ kind: 'ipm' })).to.deep.equal({ kind: 'ipm', eps: 0.1 });
      expect(parseBehavior({ kind: 'backdoor' })).to.deep.equal({
        kind: 'backdoor',
        target: 0,
        p: 0.5,
        gamma: 1,
        trigger: { row: 23, col: 23, size: 4, value: 1 },
      });
      expect(parseBehavior({ kind: 'backdoor', trigger: { size: 3 } })).to.deep.include({ trigger: { row: 23, col: 23, size: 3, value: 1 } });
      expect(parseBehavior({ kind: 'free-rider' })).to.deep.equal({ kind: 'free-rider' });
      expect(parseBehavior({ kind: 'free-rider', claimedExamples: 600 })).to.deep.equal({ kind: 'free-rider', claimedExamples: 600 });
      expect(parseBehavior({ kind: 'crash', stage: 'unmask' })).to.deep.equal({
        kind: 'crash',
        stage: 'unmask',
        mode: 'disconnect',
        rounds: 'all',
        rejoin: true,
      });
      expect(parseBehavior({ kind: 'crash', stage: 'collectMasked', sum: 'bva/3/p2', rounds: { p: 0.25 } })).to.deep.include({
        sum: 'bva/3/p2',
        rounds: { p: 0.25 },
      });
      expect(parseBehavior({ kind: 'straggler', delayMs: 100 })).to.deep.equal({ kind: 'straggler', delayMs: 100, stages: ['train'] });
      expect(parseBehavior({ kind: 'straggler', delayMs: { uniform: [10, 20] }, stages: ['setup', 'unmask'] })).to.deep.include({
        delayMs: { uniform: [10, 20] },
        stages: ['setup', 'unmask'],
      });
    });

    it('gives plain, JSON-round-trippable data that parses to itself', () => {
      for (const kind of BEHAVIOR_KINDS) {
        const input = kind === 'crash' ? { kind, stage: 'train' } : kind === 'straggler' ? { kind, delayMs: { exponentialMean: 50 } } : { kind };
        const spec = parseBehavior(input);
        const copy = JSON.parse(JSON.stringify(spec)) as unknown;
        expect(copy).to.deep.equal(spec);
        expect(parseBehavior(copy)).to.deep.equal(spec);
      }
      // Defaults are never shared between parses.
      const a = parseBehavior({ kind: 'straggler', delayMs: 1 });
      const b = parseBehavior({ kind: 'straggler', delayMs: 1 });
      expect(a.kind === 'straggler' && b.kind === 'straggler' && a.stages !== b.stages).to.equal(true);
    });

    it('refuses bad values, naming the field path and the value', () => {
      expectConfigError(() => parseBehavior({ kind: 'gaussian', sigma: -1 }), ['corrupted.behavior.sigma'], /corrupted\.behavior\.sigma = -1 is invalid: sigma must be a finite number ≥ 0/);
      expectConfigError(() => parseBehavior({ kind: 'gausian' }), ['corrupted.behavior.kind'], /corrupted\.behavior\.kind = "gausian" is invalid: .*label-flip, gaussian/);
      expectConfigError(() => parseBehavior({}), ['corrupted.behavior.kind'], /kind = undefined \(missing\)/);
      expectConfigError(() => parseBehavior('gaussian'), ['corrupted.behavior'], /corrupted\.behavior = "gaussian" is invalid/);
      expectConfigError(() => parseBehavior({ kind: 'gaussian', sigm: 2 }), ['corrupted.behavior.sigm'], /corrupted\.behavior\.sigm is not a known field/);
      expectConfigError(() => parseBehavior({ kind: 'label-flip', fraction: 1.5 }), ['corrupted.behavior.fraction'], /= 1\.5 is invalid: fraction must be a number in \[0, 1\]/);
      expectConfigError(() => parseBehavior({ kind: 'label-flip', map: [1, 2.5] }), ['corrupted.behavior.map'], /map = \[1,2\.5\] is invalid: map must be "reverse" or an array of labels/);
      expectConfigError(() => parseBehavior({ kind: 'scale', gamma: 'm' }), ['corrupted.behavior.gamma'], /gamma = "m" is invalid: gamma must be a finite number > 0 or "cohort"/);
      expectConfigError(() => parseBehavior({ kind: 'scale', gamma: 0 }), ['corrupted.behavior.gamma'], /gamma = 0 is invalid/);
      expectConfigError(() => parseBehavior({ kind: 'scale', base: 'gaussian' }), ['corrupted.behavior.base'], /base = "gaussian"/);
      expectConfigError(() => parseBehavior({ kind: 'alie', z: 'max' }), ['corrupted.behavior.z'], /z = "max" is invalid/);
      expectConfigError(() => parseBehavior({ kind: 'ipm', eps: -0.1 }), ['corrupted.behavior.eps'], /eps = -0\.1/);
      expectConfigError(() => parseBehavior({ kind: 'backdoor', trigger: { size: 0 } }), ['corrupted.behavior.trigger.size'], /trigger\.size = 0/);
      expectConfigError(() => parseBehavior({ kind: 'crash' }), ['corrupted.behavior.stage'], /stage = undefined \(missing\) is invalid: expected one of train, setup/);
      expectConfigError(() => parseBehavior({ kind: 'crash', stage: 'train', sum: 'model' }), ['corrupted.behavior.sum'], /sum is only meaningful with stage collectMasked/);
      expectConfigError(() => parseBehavior({ kind: 'crash', stage: 'unmask', sum: 'bva/x/p1' }), ['corrupted.behavior.sum'], /sum = "bva\/x\/p1"/);
      expectConfigError(() => parseBehavior({ kind: 'crash', stage: 'unmask', rounds: [0] }), ['corrupted.behavior.rounds.0'], /rounds\.0 = 0 is invalid: rounds entries must be an integer in \[1, /);
      expectConfigError(() => parseBehavior({ kind: 'crash', stage: 'unmask', mode: 'quiet' }), ['corrupted.behavior.mode'], /mode = "quiet"/);
      expectConfigError(() => parseBehavior({ kind: 'straggler' }), ['corrupted.behavior.delayMs'], /delayMs = undefined/);
      expectConfigError(() => parseBehavior({ kind: 'straggler', delayMs: { uniform: [5, 1] } }), ['corrupted.behavior.delayMs.uniform'], /a ≤ b/);
      expectConfigError(() => parseBehavior({ kind: 'straggler', delayMs: 1, stages: [] }), ['corrupted.behavior.stages'], /at least one stage/);
      expectConfigError(() => parseBehavior({ kind: 'straggler', delayMs: 1, stages: ['reshare'] }), ['corrupted.behavior.stages.0'], /stages\.0 = "reshare"/);
      expectConfigError(() => parseBehavior({ kind: 'gaussian', sigma: -1 }, 'scenario.attack'), ['scenario.attack.sigma'], /^scenario\.attack\.sigma/);
    });

    it('checks a label map and a backdoor target against the number of classes when given', () => {
      expect(parseBehavior({ kind: 'label-flip', map: [1, 0, 2] }, undefined, { numClasses: 3 })).to.deep.include({ map: [1, 0, 2] });
      expectConfigError(() => parseBehavior({ kind: 'label-flip', map: [1, 0] }, undefined, { numClasses: 3 }), ['corrupted.behavior.map'], /one entry per class \(3\), got 2/);
      expectConfigError(() => parseBehavior({ kind: 'label-flip', map: [1, 0, 3] }, undefined, { numClasses: 3 }), ['corrupted.behavior.map'], /map\[2\] = 3/);
      expectConfigError(() => parseBehavior({ kind: 'backdoor', target: 10 }, undefined, { numClasses: 10 }), ['corrupted.behavior.target'], /target = 10/);
    });

    it('parseCorruption fills defaults and refuses poisonBva with an oracle behaviour', () => {
      expect(parseCorruption({ fraction: 0.2, behavior: { kind: 'ipm' } })).to.deep.equal({
        fraction: 0.2,
        selection: 'per-round',
        behavior: { kind: 'ipm', eps: 0.1 },
        poisonBva: false,
      });
      expect(parseCorruption({ fraction: 0.2, selection: 'population', behavior: { kind: 'gaussian' }, poisonBva: true }).poisonBva).to.equal(true);
      expectConfigError(() => parseCorruption({ fraction: 1.2, behavior: { kind: 'ipm' } }), ['corrupted.fraction'], /corrupted\.fraction = 1\.2/);
      expectConfigError(() => parseCorruption({ fraction: 0.1, behavior: { kind: 'gaussian', sigma: 'x' } }), ['corrupted.behavior.sigma'], /corrupted\.behavior\.sigma = "x"/);
      for (const behavior of [{ kind: 'alie' }, { kind: 'ipm' }, { kind: 'sign-flip', omniscient: true }]) {
        expectConfigError(
          () => parseCorruption({ fraction: 0.1, behavior, poisonBva: true }),
          ['corrupted.poisonBva', 'corrupted.behavior.kind'],
          /poisonBva = true cannot be combined with .*honest updates/,
        );
      }
    });

    it('classifies behaviours', () => {
      const kinds = Object.fromEntries(
        BEHAVIOR_KINDS.map((kind) => [kind, behaviorKindOf(parseBehavior(kind === 'crash' ? { kind, stage: 'train' } : kind === 'straggler' ? { kind, delayMs: 1 } : { kind }))]),
      );
      expect(kinds).to.deep.equal({
        'label-flip': 'data',
        gaussian: 'update',
        'sign-flip': 'update',
        scale: 'update',
        alie: 'update',
        ipm: 'update',
        backdoor: 'data',
        'free-rider': 'update',
        crash: 'fault',
        straggler: 'fault',
        mimic: 'update',
        'opt-alie': 'update',
        'opt-ipm': 'update',
        inf: 'update',
      });
      expect(needsHonestUpdates(parseBehavior({ kind: 'alie' }))).to.equal(true);
      expect(needsHonestUpdates(parseBehavior({ kind: 'ipm' }))).to.equal(true);
      expect(needsHonestUpdates(parseBehavior({ kind: 'sign-flip', omniscient: true }))).to.equal(true);
      expect(needsHonestUpdates(parseBehavior({ kind: 'sign-flip' }))).to.equal(false);
      expect(needsHonestUpdates(parseBehavior({ kind: 'gaussian' }))).to.equal(false);
      expect(poisonBvaSupported(parseBehavior({ kind: 'scale' }))).to.equal(true);
      expect(poisonBvaSupported(parseBehavior({ kind: 'alie' }))).to.equal(false);
      expect(dataPoisonOf(parseBehavior({ kind: 'scale', base: 'backdoor' }))).to.deep.equal(parseBehavior({ kind: 'backdoor' }));
      expect(dataPoisonOf(parseBehavior({ kind: 'scale', base: 'label-flip' }))).to.deep.equal(parseBehavior({ kind: 'label-flip' }));
      expect(poisonsData(parseBehavior({ kind: 'scale' }))).to.equal(false);
      expect(transformsUpdate(parseBehavior({ kind: 'backdoor' }))).to.equal(false);
      expect(transformsUpdate(parseBehavior({ kind: 'backdoor', gamma: 10 }))).to.equal(true);
      expect(transformsUpdate(parseBehavior({ kind: 'label-flip' }))).to.equal(false);
    });
  });

  describe('selection', () => {
    const cohort = Array.from({ length: 10 }, (_, i) => `c${i}`);

    it('corrupts exactly round(f·m) members of the cohort, deterministically and independent of order', () => {
      const s = corruptedInRound(5, 1, cohort, 0.2);
      expect(s.size).to.equal(2);
      for (const id of s) expect(cohort).to.include(id);
      expect([...corruptedInRound(5, 1, cohort, 0.2)]).to.deep.equal([...s]);
      expect([...corruptedInRound(5, 1, [...cohort].reverse(), 0.2)].sort()).to.deep.equal([...s].sort());
      expect(corruptedInRound(5, 1, cohort, 0).size).to.equal(0);
      expect(corruptedInRound(5, 1, cohort, 1).size).to.equal(10);
      expect(corruptedInRound(5, 1, cohort, 0.25).size).to.equal(3); // Math.round(2.5) = 3: halves go up
      const big = Array.from({ length: 100 }, (_, i) => `c${i}`);
      expect(corruptedInRound(5, 1, big, 0.29).size).to.equal(29); // 0.29·100 = 28.999… in floats
    });

    it('draws a different set in different rounds and seeds', () => {
      const sets = new Set(Array.from({ length: 20 }, (_, r) => [...corruptedInRound(5, r + 1, cohort, 0.3)].sort().join(',')));
      expect(sets.size).to.be.greaterThan(5);
      const bySeed = new Set(Array.from({ length: 20 }, (_, seed) => [...corruptedInRound(seed, 1, cohort, 0.3)].sort().join(',')));
      expect(bySeed.size).to.be.greaterThan(5);
    });

    it('refuses bad rounds, fractions and duplicate ids', () => {
      expect(() => corruptedInRound(5, 0, cohort, 0.2)).to.throw(RangeError, /numbered from 1/);
      expect(() => corruptedInRound(5, 1, cohort, 1.5)).to.throw(RangeError, /\[0, 1\]/);
      expect(() => corruptedInRound(5, 1, ['a', 'b', 'a'], 0.5)).to.throw(RangeError, /"a" twice/);
    });

    it('population selection corrupts round(f·N) clients, fixed for the run', () => {
      const ids = Array.from({ length: 100 }, (_, i) => `client-${i}`);
      const p = corruptedPopulation(9, ids, 0.3);
      expect(p.size).to.equal(30);
      for (const id of p) expect(ids).to.include(id);
      expect([...corruptedPopulation(9, [...ids].reverse(), 0.3)].sort()).to.deep.equal([...p].sort());
      expect([...corruptedPopulation(10, ids, 0.3)].sort()).to.not.deep.equal([...p].sort());
    });
  });

  describe('data poisoning', () => {
    it('label flip relabels exactly round(fraction·n) examples y → C−1−y, and nothing else', () => {
      const local = toyLocal(20);
      const imagesBefore = local.images.slice();
      const labelsBefore = local.labels.slice();
      const spec = parseBehavior({ kind: 'label-flip', fraction: 0.35 });
      const out = poisonLocalData(spec, local, new Rng(3));
      expect(out.poisoned.length).to.equal(7);
      expect(out.images).to.not.equal(local.images);
      expect(out.labels).to.not.equal(local.labels);
      expect(arr(out.images)).to.deep.equal(arr(imagesBefore)); // byte-identical images
      const poisoned = new Set(out.poisoned);
      let changed = 0;
      for (let i = 0; i < 20; i++) {
        if (poisoned.has(i)) expect(out.labels[i]).to.equal(9 - labelsBefore[i]!);
        else expect(out.labels[i]).to.equal(labelsBefore[i]);
        if (out.labels[i] !== labelsBefore[i]) changed++;
      }
      expect(changed).to.equal(7); // reverse has no fixed point for C = 10
      // Inputs untouched, and the same generator state gives the same poisoning.
      expect(arr(local.images)).to.deep.equal(arr(imagesBefore));
      expect(arr(local.labels)).to.deep.equal(arr(labelsBefore));
      expect(arr(poisonLocalData(spec, local, new Rng(3)).labels)).to.deep.equal(arr(out.labels));
    });

    it('label flip follows a given map and defaults to every example', () => {
      const local = toyLocal(10);
      const map = [1, 2, 3, 4, 5, 6, 7, 8, 9, 0];
      const out = poisonLocalData(parseBehavior({ kind: 'label-flip', map }), local, new Rng(1));
      expect(arr(out.labels)).to.deep.equal(arr(local.labels).map((y) => map[y]));
      expect(arr(out.poisoned)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(() => poisonLocalData(parseBehavior({ kind: 'label-flip', map: [0, 1] }), local, new Rng(1))).to.throw(RangeError, /one entry per class \(10\)/);
    });

    it('backdoor overwrites exactly the trigger pixels of exactly round(p·n) examples and relabels only those', () => {
      const local = toyLocal(11);
      for (let i = 0; i < local.images.length; i++) local.images[i] = 0.7; // so adding would show as 1.7
      local.images[5] = 0.2;
      const before = local.images.slice();
      const labelsBefore = local.labels.slice();
      const spec = parseBehavior({ kind: 'backdoor', target: 3 });
      const out = poisonLocalData(spec, local, new Rng(4));
      expect(out.poisoned.length).to.equal(6); // round(0.5·11) = round(5.5) = 6
      const offsets = new Set(triggerOffsets(local, { row: 23, col: 23, size: 4, value: 1 }));
      expect(offsets.size).to.equal(16);
      for (const o of offsets) {
        const [r, c] = [Math.floor(o / 28), o % 28];
        expect(r >= 23 && r <= 26 && c >= 23 && c <= 26).to.equal(true);
      }
      const poisoned = new Set(out.poisoned);
      const d = 28 * 28;
      for (let n = 0; n < 11; n++) {
        expect(out.labels[n]).to.equal(poisoned.has(n) ? 3 : labelsBefore[n]);
        for (let j = 0; j < d; j++) {
          const want = poisoned.has(n) && offsets.has(j) ? 1 : before[n * d + j]!;
          if (out.images[n * d + j] !== want) expect.fail(`example ${n} pixel ${j}: ${out.images[n * d + j]} ≠ ${want}`);
        }
      }
      expect(arr(local.images)).to.deep.equal(arr(before));
      expect(arr(local.labels)).to.deep.equal(arr(labelsBefore));
    });

    it('stampTrigger writes every channel of the square, in place, on all or the listed rows', () => {
      const shape = { height: 6, width: 5, channels: 3 };
      const d = 6 * 5 * 3;
      const trigger: Trigger = { row: 2, col: 3, size: 2, value: 0.5 };
      const images = new Float32Array(3 * d);
      expect(stampTrigger(images, 3, shape, trigger, [1])).to.equal(images);
      const set = arr(images).flatMap((v, i) => (v !== 0 ? [i] : []));
      expect(set).to.deep.equal(arr(triggerOffsets(shape, trigger)).map((o) => d + o));
      expect(set.length).to.equal(12); // 2×2 pixels × 3 channels
      expect(set.every((i) => images[i] === 0.5)).to.equal(true);
      stampTrigger(images, 3, shape, trigger);
      expect(arr(images).filter((v) => v !== 0).length).to.equal(36);
      expect(() => stampTrigger(images, 3, shape, { ...trigger, col: 4 })).to.throw(RangeError, /does not fit/);
    });

    it('scale with a poisoned base poisons data like its base; update kinds copy the data untouched', () => {
      const local = toyLocal(10);
      const out = poisonLocalData(parseBehavior({ kind: 'scale', base: 'backdoor' }), local, new Rng(2));
      expect(out.poisoned.length).to.equal(5);
      for (const i of out.poisoned) expect(out.labels[i]).to.equal(0);
      const plain = poisonLocalData(parseBehavior({ kind: 'gaussian' }), local, new Rng(2));
      expect(plain.poisoned.length).to.equal(0);
      expect(plain.images).to.not.equal(local.images);
      expect(arr(plain.images)).to.deep.equal(arr(local.images));
      expect(arr(plain.labels)).to.deep.equal(arr(local.labels));
    });
  });

  describe('update transforms', () => {
    const own = f32(1, -2, 3.5, 0);
    const ownBefore = arr(own);
    afterEach(() => expect(arr(own)).to.deep.equal(ownBefore)); // never mutated

    it('gaussian replaces Δ with N(μ, σ²) noise, seeded, ignoring Δ', () => {
      const spec = parseBehavior({ kind: 'gaussian', mu: 0.5, sigma: 2 });
      const d = 40_000;
      const out = transformUpdate(spec, new Float32Array(d).fill(100), ctx({ rng: new Rng(11) }));
      let mean = 0;
      for (const v of out) mean += v;
      mean /= d;
      let v2 = 0;
      for (const v of out) v2 += (v - mean) ** 2;
      const std = Math.sqrt(v2 / d);
      expect(mean).to.be.closeTo(0.5, 0.04); // 4 standard errors (σ/√d = 0.01)
      expect(std).to.be.closeTo(2, 0.04);
      const other = transformUpdate(spec, new Float32Array(d).fill(-7), ctx({ rng: new Rng(11) }));
      expect(arr(other)).to.deep.equal(arr(out));
    });

    it('sign flip sends −s·Δ, or −s·mean(honest) when omniscient', () => {
      expect(arr(transformUpdate(parseBehavior({ kind: 'sign-flip' }), own, ctx()))).to.deep.equal([-1, 2, -3.5, -0]);
      expect(arr(transformUpdate(parseBehavior({ kind: 'sign-flip', s: 2 }), own, ctx()))).to.deep.equal([-2, 4, -7, -0]);
      const honest = [f32(1, 2, 0, 4), f32(3, 4, 1, 0)];
      expect(arr(transformUpdate(parseBehavior({ kind: 'sign-flip', s: 3, omniscient: true }), own, ctx({ honest })))).to.deep.equal([-6, -9, -1.5, -6]);
    });

    it('scale multiplies by γ = m (cohort), a fixed γ, or min(γ, S/‖Δ‖) (constrain-and-scale)', () => {
      expect(arr(transformUpdate(parseBehavior({ kind: 'scale' }), own, ctx({ m: 10 })))).to.deep.equal([10, -20, 35, 0]);
      expect(arr(transformUpdate(parseBehavior({ kind: 'scale', gamma: 3 }), own, ctx()))).to.deep.equal([3, -6, 10.5, 0]);
      const delta = f32(3, 4); // ‖Δ‖ = 5
      expect(arr(transformUpdate(parseBehavior({ kind: 'scale', S: 20 }), delta, ctx({ m: 10 })))).to.deep.equal([12, 16]); // γ = 4
      expect(arr(transformUpdate(parseBehavior({ kind: 'scale', S: 100 }), delta, ctx({ m: 10 })))).to.deep.equal([30, 40]); // γ = m
      expect(arr(transformUpdate(parseBehavior({ kind: 'scale', gamma: 2, S: 100 }), delta, ctx({ m: 10 })))).to.deep.equal([6, 8]);
      expect(arr(transformUpdate(parseBehavior({ kind: 'scale', S: 1 }), f32(0, 0), ctx()))).to.deep.equal([0, 0]);
    });

    it('ALIE sends μ + zσ coordinate-wise (population σ)', () => {
      const honest = [f32(1, 0, 5), f32(3, 4, 5)]; // μ = (2, 2, 5), σ = (1, 2, 0)
      expect(arr(transformUpdate(parseBehavior({ kind: 'alie' }), f32(9, 9, 9), ctx({ honest })))).to.deep.equal([3.5, 5, 5]);
      expect(arr(transformUpdate(parseBehavior({ kind: 'alie', z: -1 }), f32(9, 9, 9), ctx({ honest })))).to.deep.equal([1, 0, 5]);
      // m = 10, f = 2: auto z = 0, so ALIE sends the honest mean (the §9 pitfall).
      expect(arr(transformUpdate(parseBehavior({ kind: 'alie', z: 'auto' }), f32(9, 9, 9), ctx({ honest, m: 10, f: 2 })))).to.deep.equal([2, 2, 5]);
    });

    it('auto z: 0 for m = 10, f = 2; Φ⁻¹(49/80) for m = 100, f = 20', () => {
      // m = 10, f = 2: s = ⌊10/2⌋ + 1 − 2 = 4, (10 − 2 − 4)/(10 − 2) = 0.5, Φ⁻¹(0.5) = 0.
      expect(alieAutoZ(10, 2)).to.equal(0);
      // m = 100, f = 20: s = 51 − 20 = 31, (80 − 31)/80 = 0.6125; Φ⁻¹(0.6125) = 0.28584087488… (scipy norm.ppf).
      expect(alieAutoZ(100, 20)).to.be.closeTo(0.2858408748811657, 1e-8);
      expect(() => alieAutoZ(10, 0)).to.throw(RangeError, /1 ≤ f < m/);
      expect(() => alieAutoZ(10, 6)).to.throw(RangeError, /undefined for m = 10, f = 6/);
      expect(() => alieAutoZ(2, 1)).to.throw(RangeError, /use a fixed z/);
    });

    it('Φ⁻¹ (Acklam) matches reference quantiles in all three regions', () => {
      expect(normalQuantile(0.5)).to.equal(0);
      expect(normalQuantile(0.975)).to.be.closeTo(1.959963984540054, 1e-8);
      expect(normalQuantile(0.01)).to.be.closeTo(-2.3263478740408408, 1e-8);
      expect(normalQuantile(0.999)).to.be.closeTo(3.090232306167813, 1e-8);
      expect(normalQuantile(0)).to.equal(-Infinity);
      expect(normalQuantile(1)).to.equal(Infinity);
    });

    it('IPM sends −ε·mean(honest); the free rider sends zeros', () => {
      const honest = [f32(1, 2, 0, 4), f32(3, 4, 1, 0)];
      const ipm = transformUpdate(parseBehavior({ kind: 'ipm' }), own, ctx({ honest }));
      expect(arr(ipm)).to.deep.equal([2, 3, 0.5, 2].map((v) => Math.fround(-0.1 * v)));
      expect(arr(transformUpdate(parseBehavior({ kind: 'ipm', eps: 100 }), own, ctx({ honest })))).to.deep.equal([-200, -300, -50, -200]);
      expect(arr(transformUpdate(parseBehavior({ kind: 'free-rider' }), own, ctx()))).to.deep.equal([0, 0, 0, 0]);
    });

    it('data and fault kinds return an equal copy; a backdoor scales by its γ', () => {
      const specs: BehaviorSpec[] = [
        parseBehavior({ kind: 'label-flip' }),
        parseBehavior({ kind: 'crash', stage: 'setup' }),
        parseBehavior({ kind: 'straggler', delayMs: 5 }),
        parseBehavior({ kind: 'backdoor' }),
      ];
      for (const spec of specs) {
        const out = transformUpdate(spec, own, ctx());
        expect(out).to.not.equal(own);
        expect(arr(out)).to.deep.equal(ownBefore);
      }
      expect(arr(transformUpdate(parseBehavior({ kind: 'backdoor', gamma: 5 }), own, ctx()))).to.deep.equal([5, -10, 17.5, 0]);
    });

    it('refuses oracle behaviours without honest updates, and mismatched lengths', () => {
      for (const spec of [parseBehavior({ kind: 'alie' }), parseBehavior({ kind: 'ipm' }), parseBehavior({ kind: 'sign-flip', omniscient: true })]) {
        expect(() => transformUpdate(spec, own, ctx())).to.throw(Error, /needs the round's honest updates/);
        expect(() => transformUpdate(spec, own, ctx({ honest: [] }))).to.throw(Error, /an empty list/);
      }
      expect(() => transformUpdate(parseBehavior({ kind: 'ipm' }), own, ctx({ honest: [f32(1)] }))).to.throw(RangeError, /1 coordinates/);
      expect(() => transformUpdate(parseBehavior({ kind: 'scale' }), own, ctx({ m: 0 }))).to.throw(RangeError, /m must be/);
    });

    it('poisons BV contributions array by array (poisonBva) and refuses oracle behaviours', () => {
      const values = [f32(0.1, -0.2), f32(0.5)];
      const gaussian = transformBvaContribution(parseBehavior({ kind: 'gaussian' }), values, new Rng(2));
      expect(gaussian.map((v) => v.length)).to.deep.equal([2, 1]);
      expect(arr(gaussian[0]!)).to.not.deep.equal(arr(values[0]!));
      expect(transformBvaContribution(parseBehavior({ kind: 'sign-flip' }), values, new Rng(2)).map(arr)).to.deep.equal([[Math.fround(-0.1), Math.fround(0.2)], [-0.5]]);
      expect(transformBvaContribution(parseBehavior({ kind: 'scale' }), values, new Rng(2), 4).map(arr)).to.deep.equal([[Math.fround(4 * Math.fround(0.1)), Math.fround(4 * Math.fround(-0.2))], [2]]);
      expect(transformBvaContribution(parseBehavior({ kind: 'scale', gamma: 2 }), values, new Rng(2)).map(arr)[1]).to.deep.equal([1]);
      expect(transformBvaContribution(parseBehavior({ kind: 'free-rider' }), values, new Rng(2)).map(arr)).to.deep.equal([[0, 0], [0]]);
      const copies = transformBvaContribution(parseBehavior({ kind: 'label-flip' }), values, new Rng(2));
      expect(copies[0]).to.not.equal(values[0]);
      expect(copies.map(arr)).to.deep.equal(values.map(arr));
      expect(() => transformBvaContribution(parseBehavior({ kind: 'scale' }), values, new Rng(2))).to.throw(RangeError, /cohort size m/);
      for (const spec of [parseBehavior({ kind: 'alie' }), parseBehavior({ kind: 'ipm' }), parseBehavior({ kind: 'sign-flip', omniscient: true })]) {
        expect(poisonBvaSupported(spec)).to.equal(false);
        expect(() => transformBvaContribution(spec, values, new Rng(2))).to.throw(Error, /cannot poison the BV statistics/);
      }
    });
  });

  describe('faults', () => {
    it('crash: every round, listed rounds only, or a seeded draw per (client, round)', () => {
      const all = parseBehavior({ kind: 'crash', stage: 'collectMasked', sum: 'model', mode: 'silent' });
      for (let r = 1; r <= 5; r++) {
        expect(crashPlan(all, 1, 'c0', r)).to.deep.equal({ stage: 'collectMasked', sum: 'model', mode: 'silent', rejoin: true });
      }
      const listed = parseBehavior({ kind: 'crash', stage: 'shareKeys', rounds: [2, 4], rejoin: false });
      expect([1, 2, 3, 4, 5].filter((r) => crashPlan(listed, 1, 'c0', r) !== undefined)).to.deep.equal([2, 4]);
      expect(crashPlan(listed, 1, 'c0', 2)).to.deep.equal({ stage: 'shareKeys', mode: 'disconnect', rejoin: false });

      const p = parseBehavior({ kind: 'crash', stage: 'train', rounds: { p: 0.3 } });
      const hits = (seed: number, id: string) => Array.from({ length: 1000 }, (_, i) => crashPlan(p, seed, id, i + 1) !== undefined);
      const a = hits(1, 'c0');
      expect(hits(1, 'c0')).to.deep.equal(a); // repeatable
      expect(hits(1, 'c1')).to.not.deep.equal(a); // independent per client
      expect(hits(2, 'c0')).to.not.deep.equal(a); // and per seed
      expect(a.filter(Boolean).length).to.be.within(250, 350);
      // Call order does not matter: round 7 alone gives what it gave inside the sweep.
      expect(crashPlan(p, 1, 'c0', 7) !== undefined).to.equal(a[6]);
      expect(crashPlan(parseBehavior({ kind: 'crash', stage: 'train', rounds: { p: 0 } }), 1, 'c0', 1)).to.equal(undefined);
      expect(crashPlan(parseBehavior({ kind: 'crash', stage: 'train', rounds: { p: 1 } }), 1, 'c0', 1)).to.not.equal(undefined);
      expect(crashPlan(parseBehavior({ kind: 'gaussian' }), 1, 'c0', 1)).to.equal(undefined);
      expect(() => crashPlan(all, 1, 'c0', 0)).to.throw(RangeError, /numbered from 1/);
    });

    it('straggler: fixed, uniform and exponential delays at the listed stages only', () => {
      const fixed = parseBehavior({ kind: 'straggler', delayMs: 250 });
      expect(stragglerDelayMs(fixed, new Rng(1), 'train')).to.equal(250);
      expect(stragglerDelayMs(fixed, new Rng(1), 'setup')).to.equal(undefined);
      expect(stragglerDelayMs(fixed, new Rng(1), 'reshare')).to.equal(undefined);
      expect(stragglerDelayMs(parseBehavior({ kind: 'gaussian' }), new Rng(1), 'train')).to.equal(undefined);

      const uniform = parseBehavior({ kind: 'straggler', delayMs: { uniform: [100, 300] }, stages: ['setup', 'unmask'] });
      expect(stragglerDelayMs(uniform, new Rng(1), 'train')).to.equal(undefined);
      const rng = new Rng(3);
      const us = Array.from({ length: 2000 }, () => stragglerDelayMs(uniform, rng, 'unmask')!);
      expect(Math.min(...us)).to.be.at.least(100);
      expect(Math.max(...us)).to.be.below(300);
      expect(us.reduce((s, v) => s + v, 0) / us.length).to.be.closeTo(200, 8);
      expect(stragglerDelayMs(uniform, new Rng(3), 'setup')).to.equal(us[0]); // seeded

      const expo = parseBehavior({ kind: 'straggler', delayMs: { exponentialMean: 50 } });
      const rng2 = new Rng(4);
      const es = Array.from({ length: 5000 }, () => stragglerDelayMs(expo, rng2, 'train')!);
      expect(Math.min(...es)).to.be.at.least(0);
      expect(es.reduce((s, v) => s + v, 0) / es.length).to.be.closeTo(50, 3); // σ/√n ≈ 0.7
    });
  });

  describe('attack success rate', function () {
    before(async () => {
      await initBackend({ backend: 'wasm', quiet: true });
    });

    /**
     * A softmax-linear model that predicts 1 on a clean image, 0 (the target) when the default trigger is
     * present, and 2 whenever pixel (0, 0) is lit, trigger or not: logit₀ = Σ trigger pixels (16 when stamped,
     * ≤ 6.4 on these clean images), logit₁ = 8, logit₂ = 100·x₀₀.
     */
    function triggerModel(): Model {
      const spec = modelSpec('linear');
      const w = new Float32Array(spec.numParams);
      const kernel = spec.layout[0]!;
      const bias = spec.layout[1]!;
      expect(kernel.shape).to.deep.equal([784, 10]);
      for (const o of triggerOffsets({ height: 28, width: 28, channels: 1 }, { row: 23, col: 23, size: 4, value: 1 })) w[kernel.offset + o * 10 + 0] = 1;
      w[kernel.offset + 0 * 10 + 2] = 100;
      w[bias.offset + 1] = 8;
      return new Model(spec, w);
    }

    const labels = Uint8Array.of(0, 1, 2, 3, 0, 5, 6, 7, 8, 9, 1, 2);
    const lit = new Set([2, 3, 4]); // pixel (0, 0) = 1: stays class 2 even with the trigger
    const rng = new Rng(8);
    const images = Float32Array.from({ length: 12 * 784 }, () => 0.4 * rng.float());
    for (let n = 0; n < 12; n++) images[n * 784] = lit.has(n) ? 1 : 0;
    const test = { images, labels, height: 28, width: 28, channels: 1, numClasses: 10 };
    const trigger: Trigger = { row: 23, col: 23, size: 4, value: 1 };

    it('counts the non-target examples classified as the target once stamped', async () => {
      const model = triggerModel();
      const before = tf.memory().numTensors;
      const imagesBefore = images.slice();
      // Non-target: 10 examples (0 and 4 are target-labelled); 2 and 3 are lit, so 8 of 10 flip to the target.
      // Counting the target-labelled ones too would give 9/12.
      expect(await attackSuccessRate(model, test, trigger, 0)).to.be.closeTo(0.8, 1e-12);
      expect(await attackSuccessRate(model, test, trigger, 0, undefined, 3)).to.be.closeTo(0.8, 1e-12); // batch size does not matter
      expect(await attackSuccessRate(model, test, trigger, 0, [1, 2, 5])).to.be.closeTo(2 / 3, 1e-12);
      expect(await attackSuccessRate(model, { ...test, count: 4 }, trigger, 0)).to.be.closeTo(1 / 3, 1e-12); // rows 1, 2, 3
      // A trigger where the model has no weights never flips anything; clean predictions are never the target.
      expect(await attackSuccessRate(model, test, { row: 0, col: 10, size: 4, value: 1 }, 0)).to.equal(0);
      expect(await attackSuccessRate(model, test, trigger, 0, [0, 4])).to.be.NaN; // no non-target example
      expect(await attackSuccessRate(model, test, trigger, 2)).to.be.closeTo(0.2, 1e-12); // target 2: of the 10 non-2 rows only the lit 3 and 4
      expect(tf.memory().numTensors).to.equal(before);
      expect(arr(images)).to.deep.equal(arr(imagesBefore));
      model.dispose();
    });
  });
});
