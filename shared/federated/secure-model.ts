/**
 * The model sum of a secure round (secure-aggregation.md §7): clients send their update Δ = w_k − w_t in one
 * signed segment (c = 8, R = 2^22, Flower's defaults), and the coordinator applies the survivors' mean update.
 * Shared by the coordinator and by the in-process runner's emulation of secure aggregation, so both compute
 * w_{t+1} with the same arithmetic.
 */
import { DEFAULT_CLIPPING_RANGE, DEFAULT_QUANTIZATION_RANGE, type VectorSpec } from '../secagg/quantize.js';

/** Name of the model sum. */
export const MODEL_PHASE = 'model';

/** The vector layout of the model sum for a model of `numParams` parameters. */
export function modelUpdateSpec(numParams: number): VectorSpec {
  return [{ name: 'update', length: numParams, c: DEFAULT_CLIPPING_RANGE, R: DEFAULT_QUANTIZATION_RANGE, kind: 'signed' }];
}

/** Δ = trained − base. */
export function modelUpdate(trained: Float32Array, base: Float32Array): Float32Array {
  const d = new Float32Array(trained.length);
  for (let i = 0; i < d.length; i++) d[i] = trained[i]! - base[i]!;
  return d;
}

/** w_{t+1} = w_t + ΣΔ / n (uniform weighting, as the reference). */
export function applyMeanUpdate(w: Float32Array, sumDelta: Float64Array, n: number): Float32Array {
  const next = new Float32Array(w.length);
  for (let i = 0; i < next.length; i++) next[i] = w[i]! + sumDelta[i]! / n;
  return next;
}

/** The id of client k (zero-padded, so byte order is index order): the same in simulations and the runner. */
export function clientIdOf(k: number): string {
  return `client-${String(k).padStart(3, '0')}`;
}
