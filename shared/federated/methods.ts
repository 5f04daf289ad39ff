/**
 * The eight methods of docs/spec/decent-bva.md §2 (Zhou, Wu, Wang, He, arXiv 2009.09026; reference code
 * junwu6/FedBVA), by name. The reference switches between them with c2 = ±1e5 / 0.01 and a "FedAvg" that
 * already trains on the clean shared set; the project names each (§9 item 10): `fedavg` is the vanilla
 * baseline the reference cannot express, `fedavg-ds` is the reference's "FedAvg".
 */
import type { BvaMethod } from '../defense/bva-combine.js';

/** Method names, in the order tables list them: the reference's eight, then the project's robust additions. */
export const METHOD_NAMES = [
  'fedavg',
  'fedavg-ds',
  'fedavg-at',
  'fed-bias',
  'fed-variance',
  'fed-bva',
  'eat',
  'eat-fed-bva',
  'fed-bva-pgd',
  'pgd-at',
  'trades',
  'pgd-at-fed-bva',
  'trades-fed-bva',
] as const;
/** A method name. */
export type MethodName = (typeof METHOD_NAMES)[number];

/**
 * Local adversarial training of a method: `eat` (CE on the clean and on FGSM examples, the reference's EAT),
 * `pgd-at` (Madry: CE on PGD examples only), `trades` (CE on clean + β·KL to PGD-on-KL examples), or none.
 */
export type LocalTraining = 'none' | 'eat' | 'pgd-at' | 'trades';

/** What a method sends as the shared set from round 2 on, and how clients train. */
export interface MethodTraits {
  /** `none`; `clean` D_s; `fgsm-global`: FGSM(ε) of D_s on w_{t+1}; `bva`: BV-FGSM/PGD of D_s on the cohort. */
  sharedSet: 'none' | 'clean' | 'fgsm-global' | 'bva';
  /** The BV direction, for `bva` shared sets. */
  bva?: BvaMethod;
  /** The BV attack the method fixes (`fed-bva-pgd`); otherwise the configuration's `bva.attack`. */
  bvaAttack?: 'fgsm' | 'pgd';
  /** Local adversarial training. */
  local: LocalTraining;
}

/**
 * The table of decent-bva.md §2, then the project's methods beyond the paper (docs/spec/decent-bva.md §2):
 * BV-PGD shared sets, local PGD-AT and TRADES, and their combinations with the BV shared set.
 */
export const METHODS: Record<MethodName, MethodTraits> = {
  fedavg: { sharedSet: 'none', local: 'none' },
  'fedavg-ds': { sharedSet: 'clean', local: 'none' },
  'fedavg-at': { sharedSet: 'fgsm-global', local: 'none' },
  'fed-bias': { sharedSet: 'bva', bva: 'fed-bias', local: 'none' },
  'fed-variance': { sharedSet: 'bva', bva: 'fed-variance', local: 'none' },
  'fed-bva': { sharedSet: 'bva', bva: 'fed-bva', local: 'none' },
  eat: { sharedSet: 'clean', local: 'eat' },
  'eat-fed-bva': { sharedSet: 'bva', bva: 'fed-bva', local: 'eat' },
  'fed-bva-pgd': { sharedSet: 'bva', bva: 'fed-bva', bvaAttack: 'pgd', local: 'none' },
  'pgd-at': { sharedSet: 'none', local: 'pgd-at' },
  trades: { sharedSet: 'none', local: 'trades' },
  'pgd-at-fed-bva': { sharedSet: 'bva', bva: 'fed-bva', local: 'pgd-at' },
  'trades-fed-bva': { sharedSet: 'bva', bva: 'fed-bva', local: 'trades' },
};

/** Looks up a method by name, with an error that lists the valid names. */
export function methodTraits(name: string): MethodTraits {
  if (!(METHOD_NAMES as readonly string[]).includes(name)) {
    throw new Error(`unknown method "${name}"; expected one of ${METHOD_NAMES.join(', ')}`);
  }
  return METHODS[name as MethodName];
}
