/**
 * How D̂_s is made from the clean shared set, by rule (decent-bva.md §2), in the configuration's profile: one
 * function per rule, used by the coordinator and by the in-process runner alike, so the two cannot drift.
 */
import type { Model } from '../models/model.js';
import { batchFromArrays, disposeBatch } from '../train/batches.js';
import { craftLocalAdversarial } from '../attacks/adversarial-training.js';
import { bvFgsm, bvPgd, type BvaAttackResult, type BvaEnsemble } from '../defense/bva-attack.js';
import type { FederatedConfig } from './config.js';
import { methodTraits } from './methods.js';
import { bvaProfile, fgsmGlobalProfile } from './profile.js';

/** The clean shared set D_s: flat NHWC images in [0, 1] and their labels. */
export interface CleanSharedSet {
  x: Float32Array;
  labels: Uint8Array;
}

/** Image shape and class count of the data. */
export interface ImageShape {
  height: number;
  width: number;
  channels: number;
  numClasses: number;
}

/**
 * FedAvg_AT's shared set for the round after `round`: FGSM(ε) of D_s on the aggregated model w_{t+1}; in the
 * reference profile crafted with dropout on before round 10 and clamped to the batch's [min, max].
 */
export function fgsmGlobalSharedSet(model: Model, clean: CleanSharedSet, shape: ImageShape, cfg: FederatedConfig, round: number): Float32Array {
  const p = fgsmGlobalProfile(cfg, round);
  const b = batchFromArrays(clean.x, clean.labels, shape);
  try {
    const adv = craftLocalAdversarial(model, b.x, b.y, { attack: 'fgsm', eps: cfg.eps, loss: 'clean+adv', craftMode: p.craftMode, clip: p.clip }, p.seed);
    try {
      return adv.dataSync().slice() as Float32Array;
    } finally {
      adv.dispose();
    }
  } finally {
    disposeBatch(b);
  }
}

/** The BV shared set made at the end of round `round`: BV-FGSM or BV-PGD over `ensemble`, in the profile. */
export function bvaSharedSet(ensemble: BvaEnsemble, clean: CleanSharedSet, cfg: FederatedConfig, round: number): Promise<BvaAttackResult> {
  const traits = methodTraits(cfg.method);
  const base = { method: traits.bva!, bias: cfg.bva.bias, eps: cfg.eps, ...bvaProfile(cfg, round) };
  return cfg.bva.attack === 'fgsm'
    ? bvFgsm(ensemble, clean.x, clean.labels, base)
    : bvPgd(ensemble, clean.x, clean.labels, { ...base, steps: cfg.bva.steps, ...(cfg.bva.alpha !== undefined ? { alpha: cfg.bva.alpha } : {}), seed: cfg.seed, round });
}
