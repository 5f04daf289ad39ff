/**
 * Profiles: the project's default choices, or the reference code's behaviour (junwu6/FedBVA) at each place the
 * project deviates on purpose (docs/spec/decent-bva.md §9 and its "Profiles" section), so a user can check a
 * result under the reference's own rules. Both ends read the same settings from here: the coordinator for the
 * shared set, the client for its local training (through the train request) and its BV statistics (through the
 * probe), so secure aggregation applies unchanged in either profile.
 *
 * Ambiguities resolved:
 * - "No floor on p̄": the reference takes log of y_m as is, which is −∞ (and a NaN gradient) where y_m
 *   underflowed to 0. The reference profile floors at the smallest positive float32 instead, so only those
 *   entries differ and the run continues (`REFERENCE_TAU`).
 * - "c2 with a mean-reduced bias": the reference's direction (1/n_s)·∇B + c2·∇V has the sign of
 *   ∇B + (c2·n_s)·∇V, so the profile sets λ = 0.01·n_s (0.64 at n_s = 64, the default's value; they differ for
 *   other n_s, where the default keeps λ as configured).
 * - EAT's "training-mode copy": a deep copy of the model in training mode draws its own dropout masks, so the
 *   crafting pass uses a dropout seed distinct from the training step's.
 * - FedAvg_AT's "training mode until round 10": the reference (0-based `iter`) makes the shared set before its
 *   first black-box evaluation at `(iter + 1) % 10 == 0`, and only that evaluation switches the live global model
 *   to eval mode for good (§9 #11). So the sets made at the end of rounds 1–10 are crafted with dropout on, and
 *   from round 11 on with dropout off.
 * - The methods beyond the paper (PGD-AT, TRADES, BV-PGD) have no reference behaviour; their crafting is the
 *   same in both profiles, and their BV shared sets follow the profile like every BV set.
 */
import type { LocalAdversarialSpec } from '../attacks/adversarial-training.js';
import type { BvFgsmConfig } from '../defense/bva-attack.js';
import { DEFAULT_TAU, REFERENCE_TAU } from '../defense/bva-stats.js';
import { Rng } from '../util/random.js';
import type { FederatedConfig } from './config.js';
import { methodTraits } from './methods.js';

/** The reference's c2 for Fed_BVA (`utils/params.py`). */
export const REFERENCE_C2 = 0.01;

/** The first round whose FedAvg_AT set the reference crafts in eval mode (after its first black-box evaluation). */
export const REFERENCE_EVAL_MODE_FROM_ROUND = 11;

/** The BV attack settings a profile fixes: λ, the floor τ, the clip range and the statistics' dropout. */
export function bvaProfile(cfg: FederatedConfig, round: number): Pick<BvFgsmConfig, 'lambda' | 'tau' | 'clip' | 'dropoutSeed'> {
  if (cfg.profile === 'default') return { lambda: cfg.bva.lambda, tau: DEFAULT_TAU, clip: 'unit' };
  return {
    lambda: REFERENCE_C2 * cfg.sharedSetSize,
    tau: REFERENCE_TAU,
    clip: 'batch',
    // One base per round; bva-attack.ts derives a separate seed for each step's phase 1 and phase 2.
    dropoutSeed: new Rng(cfg.seed).fork('profile/bva-dropout').fork(round).nextUint32() >>> 1,
  };
}

/**
 * The ε of PGD-AT / TRADES training in round `round` (1-based): ε·min(1, round/epsRampRounds) under a warm-up,
 * else ε.
 */
export function rampedEps(cfg: FederatedConfig, round: number): number {
  const ramp = cfg.adversarialTraining.epsRampRounds ?? 0;
  return ramp > 0 ? cfg.eps * Math.min(1, Math.max(1, round) / ramp) : cfg.eps;
}

/**
 * The local adversarial training a client runs for the method in round `round` (1-based; it sets the ε of an
 * `adversarialTraining.epsRampRounds` warm-up), in the profile; undefined for none.
 */
export function localAdversarial(cfg: FederatedConfig, round: number): LocalAdversarialSpec | undefined {
  const local = methodTraits(cfg.method).local;
  const at = cfg.adversarialTraining;
  const eps = rampedEps(cfg, round);
  switch (local) {
    case 'none':
      return undefined;
    case 'eat':
      return cfg.profile === 'reference' ? { attack: 'fgsm', eps: cfg.eps, loss: 'clean+adv', craftMode: 'train', clip: 'batch' } : { attack: 'fgsm', eps: cfg.eps, loss: 'clean+adv' };
    case 'pgd-at':
      return { attack: 'pgd', eps, steps: at.steps, ...(at.alpha !== undefined ? { alpha: at.alpha } : {}), loss: 'adv' };
    case 'trades':
      return { attack: 'trades', eps, steps: at.steps, ...(at.alpha !== undefined ? { alpha: at.alpha } : {}), loss: 'trades', beta: at.tradesBeta };
  }
}

/**
 * How the coordinator crafts FedAvg_AT's FGSM shared set for round `round`: inference mode and [0, 1] by
 * default; in the reference profile, dropout on for the sets made in rounds 1–10 (with a seed of the run and
 * round), off from round 11, and the batch's [min, max].
 */
export function fgsmGlobalProfile(cfg: FederatedConfig, round: number): { craftMode: 'eval' | 'train'; clip: 'unit' | 'batch'; seed: number } {
  const seed = new Rng(cfg.seed).fork('profile/fgsm-global').fork(round).nextUint32() >>> 1;
  if (cfg.profile === 'default') return { craftMode: 'eval', clip: 'unit', seed };
  return { craftMode: round < REFERENCE_EVAL_MODE_FROM_ROUND ? 'train' : 'eval', clip: 'batch', seed };
}
