/**
 * Decent_BVA's ensemble over secure aggregation (decent-bva.md §4.2): each phase of each BV step is one secure
 * sum, so the coordinator learns only Σ P, Σ B and Σ V over each sum's survivors, never a client model or a
 * client's statistics. Each quantity is normalised by its own survivor count (§4.3).
 */
import { phase1Request, needsPhase2, type BvaMethod } from '../shared/defense/bva-combine.js';
import type { BvaEnsemble } from '../shared/defense/bva-attack.js';
import type { BiasOption } from '../shared/defense/bva-stats.js';
import { bvaPhaseName, decodePhase1, decodePhase2, phase1Spec, phase2Spec, type BvaProbe, type BvaShape } from '../shared/defense/bva-vectors.js';
import type { PlannedSum } from '../shared/secagg/messages.js';
import type { SecureSumSession } from './secagg-session.js';
import type { BvaSumInfo } from '../shared/engine/round-metrics.js';

/** The BV sums a round plans at setup: for each step, phase 1 and (unless `fed-bias`) phase 2. */
export function plannedBvaSums(method: BvaMethod, bias: BiasOption, steps: number, shape: BvaShape, nMax: number): PlannedSum[] {
  const out: PlannedSum[] = [];
  const req = phase1Request(method, bias);
  for (let l = 0; l < steps; l++) {
    out.push({ phase: bvaPhaseName(l, 1), spec: phase1Spec(shape, req, nMax) });
    if (needsPhase2(method)) out.push({ phase: bvaPhaseName(l, 2), spec: phase2Spec(shape, nMax) });
  }
  return out;
}

/** Observations of each BV sum, for the round record (defined with the round metrics). */
export type { BvaSumInfo };

/** A `BvaEnsemble` whose sums are secure sums of `session`. */
export function secureEnsemble(session: SecureSumSession, shape: BvaShape, nMax: number, onSum?: (info: BvaSumInfo) => void): BvaEnsemble {
  return {
    async phase1(X, labels, req) {
      const spec = phase1Spec(shape, req, nMax);
      const name = bvaPhaseName(req.step, 1);
      const payload: BvaProbe = {
        kind: 'bva/p1',
        X,
        labels,
        includeP: req.includeP,
        includeB: req.includeB,
        bias: req.bias,
        ...(req.dropoutSeed !== undefined ? { dropoutSeed: req.dropoutSeed } : {}),
      };
      const r = await session.sum(name, () => payload);
      const { clipped, ...sums } = decodePhase1(spec, r.sums, r.survivors.length);
      const coords = spec.filter((s) => s.kind === 'signed').reduce((a, s) => a + s.length, 0) * r.survivors.length;
      onSum?.({ phase: name, survivors: r.survivors.length, attempts: r.attempts, clippedFraction: clipped / coords });
      return sums;
    },
    async phase2(X, omega, req) {
      const spec = phase2Spec(shape, nMax);
      const name = bvaPhaseName(req.step, 2);
      const payload: BvaProbe = { kind: 'bva/p2', X, omega, ...(req.dropoutSeed !== undefined ? { dropoutSeed: req.dropoutSeed } : {}) };
      const r = await session.sum(name, () => payload);
      const { clipped, ...sums } = decodePhase2(spec, r.sums, r.survivors.length);
      onSum?.({ phase: name, survivors: r.survivors.length, attempts: r.attempts, clippedFraction: clipped / (spec[0]!.length * r.survivors.length) });
      return sums;
    },
  };
}
