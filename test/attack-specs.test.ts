/**
 * The evaluation attacks as specifications (fast, no model): the step-size and square-size schedules of the papers,
 * the presets with every parameter recorded, `attackAt` at another radius (nested in AutoAttack), seeding, and the
 * configuration fields that name them.
 */
import { expect } from 'chai';
import { apgdCheckpoints, checkApgdOptions } from '../shared/attacks/apgd.js';
import { checkSquareOptions, squareP } from '../shared/attacks/square.js';
import { checkFabOptions } from '../shared/attacks/fab.js';
import { attackAt, STANDARD_ATTACKS, withSeed } from '../shared/attacks/spec.js';
import { checkDisjointFromHeldOut, heldOutRows } from '../shared/attacks/surrogates.js';
import { resolveConfig } from '../shared/federated/config.js';
import { resolveScenario } from '../simulations/scenario.js';

describe('attack specifications', () => {
  it('APGD checkpoints follow p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06)', () => {
    expect(apgdCheckpoints(100)).to.deep.equal([0, 22, 41, 57, 70, 80, 87, 93, 99]);
    expect(apgdCheckpoints(10)).to.deep.equal([0, 3, 5, 6, 7, 8, 9, 10]);
    expect(apgdCheckpoints(1)).to.deep.equal([0, 1]);
  });

  it('Square halves p at iterations 10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000 of a 10,000 budget, rescaled to others', () => {
    expect([0, 10, 11, 50, 51, 200, 201, 8000, 8001, 9999].map((i) => squareP(0.8, i, 10000))).to.deep.equal([0.8, 0.8, 0.4, 0.4, 0.2, 0.2, 0.1, 0.8 / 256, 0.8 / 512, 0.8 / 512]);
    expect(squareP(0.8, 1000, 5000)).to.equal(0.8 / 32);
  });

  it('records every parameter in the presets (AutoAttack standard: APGD-CE, APGD-T and FAB-T with 9 targets, Square 5000 queries)', () => {
    expect(STANDARD_ATTACKS['apgd-ce']).to.deep.equal({ kind: 'apgd', eps: 0.3, loss: 'ce', steps: 100, restarts: 1, randomStart: true, rho: 0.75, momentum: 0.75, initialStep: 2 });
    expect(STANDARD_ATTACKS['apgd-t']).to.deep.include({ loss: 'dlr-targeted', targets: 9, steps: 100 });
    expect(STANDARD_ATTACKS['square']).to.deep.equal({ kind: 'square', eps: 0.3, queries: 5000, pInit: 0.8 });
    const aa = STANDARD_ATTACKS['autoattack']!;
    expect(aa.kind === 'autoattack' && aa.components.map((c) => c.name)).to.deep.equal(['apgd-ce', 'apgd-t', 'fab-t', 'square']);
    expect(STANDARD_ATTACKS['fab-t']).to.deep.equal({ kind: 'fab', eps: 0.3, steps: 100, targets: 9, alphaMax: 0.1, eta: 1.05, beta: 0.9 });
    expect(STANDARD_ATTACKS['transfer']).to.deep.include({ kind: 'transfer', surrogates: ['surrogate-a', 'surrogate-b', 'surrogate-c', 'surrogate-d'], steps: 40, epochs: 10, surrogateSeed: 1 });
    expect(STANDARD_ATTACKS['transfer-C']).to.deep.include({ surrogates: ['surrogate-c'] });
  });

  it('scales to another ε: APGD and Square by ε only, transfer’s α with it, AutoAttack’s components too', () => {
    const aa = attackAt('autoattack', 0.1);
    expect(aa.kind === 'autoattack' && aa.components.every((c) => 'eps' in c.spec && c.spec.eps === 0.1)).to.equal(true);
    expect(attackAt('apgd-t', 0.1)).to.deep.include({ eps: 0.1, steps: 100 });
    const t = attackAt('transfer-A', 0.15);
    expect(t.kind === 'transfer' && Math.abs(t.alpha - (2.5 * 0.15) / 40) < 1e-12).to.equal(true);
    expect(attackAt('autoattack')).to.equal(STANDARD_ATTACKS['autoattack']);
  });

  it('seeds every component of a suite, and leaves seedless kinds alone', () => {
    const s = withSeed(STANDARD_ATTACKS['autoattack']!, 7);
    expect(s.kind === 'autoattack' && s.seed).to.equal(7);
    expect(s.kind === 'autoattack' && s.components.map((c) => (c.spec as { seed?: number }).seed)).to.deep.equal([917, 918, 919, 920]);
    expect(withSeed(STANDARD_ATTACKS['fgsm']!, 7)).to.equal(STANDARD_ATTACKS['fgsm']);
  });

  it('refuses bad options, naming the field', () => {
    expect(() => checkApgdOptions({ eps: 0.3, steps: 0, loss: 'ce' })).to.throw(/steps = 0/);
    expect(() => checkApgdOptions({ eps: 0.3, steps: 10, loss: 'ce', rho: 2 })).to.throw(/rho = 2/);
    expect(() => checkSquareOptions({ eps: 0.3, queries: 0, pInit: 0.8 })).to.throw(/queries = 0/);
    expect(() => checkSquareOptions({ eps: 0.3, queries: 10, pInit: 1.5 })).to.throw(/pInit = 1.5/);
    expect(() => checkFabOptions({ eps: 0.3, steps: 10, targets: 9, alphaMax: 0.1, eta: 0.9, beta: 0.9 })).to.throw(/eta = 0.9/);
  });

  it('holds out the second half of the test set for the surrogates', () => {
    expect(Array.from(heldOutRows(5))).to.deep.equal([2, 3, 4]);
    expect(() => checkDisjointFromHeldOut([0, 999], 2000)).to.not.throw();
    expect(() => checkDisjointFromHeldOut([1000], 2000)).to.throw(/evalSubset ≤ 1000/);
  });

  it('lets scenarios name the new attacks and autoattackSubset', () => {
    const c = resolveConfig({
      method: 'fedavg',
      evalAttacks: ['clean'],
      finalAttacks: ['autoattack', 'apgd-ce', 'apgd-dlr', 'apgd-t', 'fab-t', 'square', 'transfer', 'transfer-A', 'transfer-D'],
      autoattackSubset: 500,
    });
    expect(c.autoattackSubset).to.equal(500);
    expect(() => resolveConfig({ method: 'fedavg', autoattackSubset: 0 })).to.throw(/autoattackSubset = 0/);
    expect(() => resolveConfig({ method: 'fedavg', finalAttacks: ['transfer-E'] })).to.throw(/finalAttacks = "transfer-E"/);
    expect(resolveScenario({ method: 'fedavg', autoattackSubset: 100 }).federated.autoattackSubset).to.equal(100);
  });
});
