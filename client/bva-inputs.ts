/**
 * A client's inputs to Decent_BVA's secure sums (decent-bva.md §4.2): from its own trained model (kept until
 * the round's last BV phase) and the probe the coordinator sent, its phase-1 P and B or its phase-2 V, laid out
 * as the sum's vector spec expects.
 */
import type { Model } from '../shared/models/model.js';
import { phase1Contribution, phase2Contribution } from '../shared/defense/bva-stats.js';
import { clientDropoutSeed } from '../shared/defense/bva-attack.js';
import { phase1Values, phase2Values, type BvaProbe } from '../shared/defense/bva-vectors.js';
import type { VectorSpec } from '../shared/secagg/quantize.js';

/**
 * The values (one array per segment of `spec`) this client contributes to a BV phase sum. `clientSeed` is the
 * client's training seed of the round: a reference-profile probe's dropout seed is mixed with it, so every
 * client draws its own masks, as each reference model does.
 */
export function bvaInputs(model: Model, spec: VectorSpec, probe: BvaProbe, clientSeed: number): Float32Array[] {
  const dropoutSeed = probe.dropoutSeed === undefined ? undefined : clientDropoutSeed(probe.dropoutSeed, clientSeed);
  if (probe.kind === 'bva/p1') {
    const c = phase1Contribution(model, probe.X, probe.labels, { bias: probe.bias, includeP: probe.includeP, includeB: probe.includeB, ...(dropoutSeed !== undefined ? { dropoutSeed } : {}) });
    return phase1Values(c, spec);
  }
  return phase2Values(phase2Contribution(model, probe.X, probe.omega, dropoutSeed));
}
