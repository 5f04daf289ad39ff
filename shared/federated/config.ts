/**
 * Configuration of a federated run (decent-bva.md §4–§6), with the `quick` and `paper` presets and one
 * validator that fills defaults and names the bad field.
 */
import { z } from 'zod';
import type { PartitionSpec } from '../data/partition.js';
import type { BiasOption } from '../defense/bva-stats.js';
import { STANDARD_ATTACKS } from '../attacks/robust-accuracy.js';
import { isKnownModel, MODEL_FIX } from '../models/registry.js';
import { METHOD_NAMES, METHODS, type MethodName } from './methods.js';

/** Every option of a federated run; units and ranges in the comments. */
export interface FederatedConfig {
  /** Method by name (decent-bva.md §2). */
  method: MethodName;
  /**
   * Model: a zoo name (default `cnn-mnist`), a name registered with `registerModel`, or the path of a JavaScript
   * module whose default export is a model definition (shared/models/registry.ts, docs/own-model.md).
   */
  model: string;
  /** Clients N (≥ 1). */
  numClients: number;
  /** Fraction of clients per round, (0, 1]; the cohort is m = max(⌊fraction·N⌋, 1). */
  fraction: number;
  /** Rounds R (≥ 1), numbered from 1. */
  rounds: number;
  /** Local epochs E (≥ 1). */
  localEpochs: number;
  /** Local minibatch size (≥ 1). */
  batchSize: number;
  /** Local SGD learning rate (> 0). */
  lr: number;
  /** Local SGD momentum, [0, 1). */
  momentum: number;
  /** How the training set is split between clients. */
  partition: PartitionSpec;
  /** n_s, shared-set size (≥ 1), drawn from the training set and removed from every client. */
  sharedSetSize: number;
  /** β, weight of the shared-set term in the client loss (≥ 0). */
  sharedLossWeight: number;
  /** ε of every perturbation the methods make (shared set, EAT), pixel units; default 0.3. */
  eps: number;
  /** Decent_BVA options. */
  bva: {
    /** BV-FGSM (reference default) or BV-PGD. */
    attack: 'fgsm' | 'pgd';
    /** BV-PGD steps L (≥ 1); default 10. */
    steps: number;
    /** BV-PGD step size; default 2.5·ε/L. */
    alpha?: number;
    /** Bias gradient option; default `mean-ce`. */
    bias: BiasOption;
    /** λ, weight of the variance term; default 0.64. */
    lambda: number;
  };
  /** Aggregation weights: `uniform` (the reference) or by example count. */
  weighting: 'uniform' | 'examples';
  /** Evaluate every this many rounds (≥ 1), and always after the last. */
  evalEvery: number;
  /** Evaluate on the first this many test examples (default: all). */
  evalSubset?: number;
  /**
   * The AutoAttack family (`apgd-ce`, `apgd-dlr`, `apgd-t`, `fab-t`, `square`, `autoattack`) runs on the first this many of
   * the evaluated test images (≥ 1; default: all of them); results record each attack's image count.
   */
  autoattackSubset?: number;
  /** Attacks (names in STANDARD_ATTACKS) at evaluation rounds. */
  evalAttacks: string[];
  /** Attacks after the last round (the strong protocol runs here by default). */
  finalAttacks: string[];
  /** Seed of everything: initial weights, shared set, partition, cohorts, shuffles, dropout, attack starts. */
  seed: number;
  /**
   * `default`: the project's choices; `reference`: the reference code's behaviour at each documented deviation
   * (docs/spec/decent-bva.md §9 and "Profiles"; shared/federated/profile.ts).
   */
  profile: 'default' | 'reference';
  /** Local adversarial training of `pgd-at`, `trades` and their combinations (EAT always uses FGSM at ε). */
  adversarialTraining: {
    /** PGD / TRADES crafting steps (integer ≥ 1); default 10. */
    steps: number;
    /** Step size, pixel units (> 0); default 2.5·ε/steps. */
    alpha?: number;
    /** TRADES β (≥ 0), the weight of the KL term; default 6, the TRADES paper's. */
    tradesBeta: number;
    /**
     * ε warm-up, in rounds (integer ≥ 0; absent or 0: none). Round t trains against ε·min(1, t/epsRampRounds),
     * and the default step size follows (2.5·that ε/steps). PGD-AT and TRADES at ε = 0.3 from random weights
     * sit on a plateau near chance that short federations do not leave; a curriculum on ε is the usual remedy
     * (Cai et al., "Curriculum Adversarial Training", IJCAI 2018; Gowal et al.'s ε ramp, arXiv 1810.12715).
     * EAT's FGSM is the paper's and is never ramped.
     */
    epsRampRounds?: number;
  };
  /**
   * ε of the evaluation attacks (pixel units, (0, 1]); default 0.3. The standard attacks' step sizes scale with
   * it (PGD-20's α = 0.01 at ε = 0.3 becomes 0.01·ε/0.3), so a preset keeps its steps-to-radius ratio.
   */
  evalEps: number;
}

const REFERENCE_ATTACKS = ['clean', 'fgsm', 'pgd-10', 'pgd-20'];

/** The `quick` preset (decent-bva.md §6): minutes on the embedded data, no protocol claim. */
export const QUICK_PRESET: Omit<FederatedConfig, 'method'> = {
  model: 'cnn-mnist',
  numClients: 10,
  fraction: 0.5,
  rounds: 3,
  localEpochs: 1,
  batchSize: 64,
  lr: 0.01,
  momentum: 0.9,
  partition: { kind: 'iid' },
  sharedSetSize: 64,
  sharedLossWeight: 1,
  eps: 0.3,
  bva: { attack: 'fgsm', steps: 10, bias: 'mean-ce', lambda: 0.64 },
  weighting: 'uniform',
  evalEvery: 3,
  evalAttacks: REFERENCE_ATTACKS,
  finalAttacks: [...REFERENCE_ATTACKS, 'pgd-strong'],
  seed: 1,
  profile: 'default',
  adversarialTraining: { steps: 10, tradesBeta: 6 },
  evalEps: 0.3,
};

/** The `paper` preset: the reference code's defaults (whether they match the paper's setup is unverified). */
export const PAPER_PRESET: Omit<FederatedConfig, 'method'> = {
  ...QUICK_PRESET,
  numClients: 100,
  fraction: 0.1,
  rounds: 100,
  localEpochs: 50,
  evalEvery: 10,
};

/** Named presets. */
export const PRESETS: Record<string, Omit<FederatedConfig, 'method'>> = { quick: QUICK_PRESET, paper: PAPER_PRESET };

/** A partial configuration as users write it. */
export type FederatedConfigInput = Partial<Omit<FederatedConfig, 'bva' | 'method' | 'adversarialTraining'>> & {
  method: string;
  bva?: Partial<FederatedConfig['bva']>;
  adversarialTraining?: Partial<FederatedConfig['adversarialTraining']>;
};

/**
 * A configuration as a file holds it (a checkpoint's header): the types of FederatedConfigInput's fields, every
 * one optional but the method, and any other field kept as it is (one from another version of robust-fl), so resume
 * compares the whole of it.
 * `resolveConfig` then fills the defaults and checks the ranges, as for any input.
 */
export const storedConfigSchema = z.looseObject({
  method: z.string(),
  model: z.string().optional(),
  numClients: z.number().optional(),
  fraction: z.number().optional(),
  rounds: z.number().optional(),
  localEpochs: z.number().optional(),
  batchSize: z.number().optional(),
  lr: z.number().optional(),
  momentum: z.number().optional(),
  partition: z
    .union([
      z.looseObject({ kind: z.literal('iid') }),
      z.looseObject({ kind: z.literal('shards'), shardsPerClient: z.number().optional() }),
      z.looseObject({ kind: z.literal('dirichlet'), alpha: z.number(), minPartitionSize: z.number().optional(), maxDraws: z.number().optional() }),
    ])
    .optional(),
  sharedSetSize: z.number().optional(),
  sharedLossWeight: z.number().optional(),
  eps: z.number().optional(),
  bva: z
    .object({ attack: z.enum(['fgsm', 'pgd']).optional(), steps: z.number().optional(), alpha: z.number().optional(), bias: z.enum(['mean-ce', 'ensemble']).optional(), lambda: z.number().optional() })
    .optional(),
  weighting: z.enum(['uniform', 'examples']).optional(),
  evalEvery: z.number().optional(),
  evalSubset: z.number().optional(),
  autoattackSubset: z.number().optional(),
  evalAttacks: z.array(z.string()).optional(),
  finalAttacks: z.array(z.string()).optional(),
  seed: z.number().optional(),
  profile: z.enum(['default', 'reference']).optional(),
  adversarialTraining: z.looseObject({ steps: z.number().optional(), alpha: z.number().optional(), tradesBeta: z.number().optional(), epsRampRounds: z.number().optional() }).optional(),
  evalEps: z.number().optional(),
}) satisfies z.ZodType<FederatedConfigInput>;

/** The client partition's kind and parameters, checked before anything runs (a typo otherwise fails mid-run). */
function checkPartitionSpec(p: unknown, bad: (field: string, v: unknown, want: string) => never): void {
  if (p === null || typeof p !== 'object' || !('kind' in p)) return bad('partition', p, "an object with kind 'iid', 'shards' or 'dirichlet'");
  const o = p as Record<string, unknown>;
  const allowed: Record<string, readonly string[]> = { iid: ['kind'], shards: ['kind', 'shardsPerClient'], dirichlet: ['kind', 'alpha', 'minPartitionSize', 'maxDraws'] };
  const keys = allowed[String(o['kind'])];
  if (keys === undefined) return bad('partition.kind', o['kind'], "'iid', 'shards' or 'dirichlet'");
  for (const k of Object.keys(o)) if (!keys.includes(k)) bad(`partition.${k}`, o[k], `no such field for kind ${String(o['kind'])} (fields: ${keys.join(', ')})`);
  const int = (k: string, min: number): void => {
    if (o[k] !== undefined && !(Number.isSafeInteger(o[k]) && (o[k] as number) >= min)) bad(`partition.${k}`, o[k], `an integer ≥ ${min}`);
  };
  if (o['kind'] === 'dirichlet' && !(typeof o['alpha'] === 'number' && o['alpha'] > 0 && Number.isFinite(o['alpha'])))
    bad('partition.alpha', o['alpha'], 'a finite number > 0 (the Dirichlet concentration)');
  int('shardsPerClient', 1);
  int('minPartitionSize', 0);
  int('maxDraws', 1);
}

/** Fills defaults from `base` (default `quick`) and validates; throws naming the field and value. */
export function resolveConfig(input: FederatedConfigInput, base: Omit<FederatedConfig, 'method'> = QUICK_PRESET): FederatedConfig {
  const c: FederatedConfig = {
    ...base,
    ...input,
    bva: { ...base.bva, ...(input.bva ?? {}) },
    adversarialTraining: { ...base.adversarialTraining, ...(input.adversarialTraining ?? {}) },
  } as FederatedConfig;
  const bad = (field: string, v: unknown, want: string): never => {
    throw new Error(`config: ${field} = ${JSON.stringify(v)} is invalid; expected ${want}`);
  };
  const int = (field: string, v: number, min: number): void => {
    if (!Number.isInteger(v) || v < min) bad(field, v, `an integer ≥ ${min}`);
  };
  if (!(METHOD_NAMES as readonly string[]).includes(c.method)) bad('method', c.method, `one of ${METHOD_NAMES.join(', ')}`);
  if (typeof c.model !== 'string' || c.model.length === 0 || c.model.length > 256 || !isKnownModel(c.model)) bad('model', c.model, `a known model: ${MODEL_FIX.replace(/^give model /, '')}`);
  int('numClients', c.numClients, 1);
  if (!(c.fraction > 0 && c.fraction <= 1)) bad('fraction', c.fraction, 'a number in (0, 1]');
  int('rounds', c.rounds, 1);
  int('localEpochs', c.localEpochs, 1);
  int('batchSize', c.batchSize, 1);
  if (!(c.lr > 0 && Number.isFinite(c.lr))) bad('lr', c.lr, 'a finite number > 0');
  if (!(c.momentum >= 0 && c.momentum < 1)) bad('momentum', c.momentum, 'a number in [0, 1)');
  int('sharedSetSize', c.sharedSetSize, 1);
  if (!(c.sharedLossWeight >= 0 && Number.isFinite(c.sharedLossWeight))) bad('sharedLossWeight', c.sharedLossWeight, 'a finite number ≥ 0');
  if (!(c.eps >= 0 && c.eps <= 1)) bad('eps', c.eps, 'a number in [0, 1]');
  if (c.bva.attack !== 'fgsm' && c.bva.attack !== 'pgd') bad('bva.attack', c.bva.attack, '"fgsm" or "pgd"');
  int('bva.steps', c.bva.steps, 1);
  if (c.bva.alpha !== undefined && !(c.bva.alpha > 0)) bad('bva.alpha', c.bva.alpha, 'a number > 0');
  if (c.bva.bias !== 'mean-ce' && c.bva.bias !== 'ensemble') bad('bva.bias', c.bva.bias, '"mean-ce" or "ensemble"');
  if (!Number.isFinite(c.bva.lambda)) bad('bva.lambda', c.bva.lambda, 'a finite number');
  if (c.weighting !== 'uniform' && c.weighting !== 'examples') bad('weighting', c.weighting, '"uniform" or "examples"');
  int('evalEvery', c.evalEvery, 1);
  if (c.evalSubset !== undefined) int('evalSubset', c.evalSubset, 1);
  if (c.autoattackSubset !== undefined) int('autoattackSubset', c.autoattackSubset, 1);
  for (const [field, list] of [
    ['evalAttacks', c.evalAttacks],
    ['finalAttacks', c.finalAttacks],
  ] as const) {
    for (const a of list) if (!(a in STANDARD_ATTACKS)) bad(field, a, `names from ${Object.keys(STANDARD_ATTACKS).join(', ')}`);
  }
  if (!Number.isInteger(c.seed)) bad('seed', c.seed, 'an integer');
  if (c.profile !== 'default' && c.profile !== 'reference') bad('profile', c.profile, '"default" or "reference"');
  // The same bounds as the wire's (shared/protocol/schemas.ts), so a configuration that validates here is never
  // refused by the clients in the middle of a run.
  int('adversarialTraining.steps', c.adversarialTraining.steps, 1);
  if (c.adversarialTraining.steps > 1000) bad('adversarialTraining.steps', c.adversarialTraining.steps, 'an integer in [1, 1000]');
  if (c.adversarialTraining.alpha !== undefined && !(c.adversarialTraining.alpha > 0 && c.adversarialTraining.alpha <= 1))
    bad('adversarialTraining.alpha', c.adversarialTraining.alpha, 'a number in (0, 1]');
  if (!(c.adversarialTraining.tradesBeta >= 0 && c.adversarialTraining.tradesBeta <= 1000)) bad('adversarialTraining.tradesBeta', c.adversarialTraining.tradesBeta, 'a number in [0, 1000]');
  const ramp = c.adversarialTraining.epsRampRounds;
  if (ramp !== undefined && !(Number.isInteger(ramp) && ramp >= 0 && ramp <= 100000)) bad('adversarialTraining.epsRampRounds', ramp, 'an integer in [0, 100000] (rounds)');
  const local = METHODS[c.method].local;
  if ((local === 'pgd-at' || local === 'trades') && !(c.eps > 0)) bad('eps', c.eps, `a number in (0, 1] for ${c.method} (its PGD step is 2.5·ε/steps)`);
  if (METHODS[c.method].bvaAttack !== undefined && input.bva?.attack !== undefined && input.bva.attack !== METHODS[c.method].bvaAttack) {
    bad('bva.attack', input.bva.attack, `"${METHODS[c.method].bvaAttack}" or nothing for ${c.method}, which fixes it`);
  }
  if (!(c.evalEps > 0 && c.evalEps <= 1)) bad('evalEps', c.evalEps, 'a number in (0, 1]');
  checkPartitionSpec(c.partition, bad);
  const bvaAttack = METHODS[c.method].bvaAttack;
  if (bvaAttack !== undefined) c.bva = { ...c.bva, attack: bvaAttack };
  return c;
}
