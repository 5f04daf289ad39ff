/**
 * The eight methods of ../shared/docs/decent-bva.md §2 (Zhou, Wu, Wang, He, arXiv 2009.09026; reference code
 * junwu6/FedBVA), by name. The reference switches between them with c2 = ±1e5 / 0.01 and a "FedAvg" that
 * already trains on the clean shared set; the project names each (§9 item 10): `fedavg` is the vanilla
 * baseline the reference cannot express, `fedavg-ds` is the reference's "FedAvg".
 */
import type { BvaMethod } from '../defense/bva-combine.js';

/** Method names, in the order tables list them. */
export const METHOD_NAMES = ['fedavg', 'fedavg-ds', 'fedavg-at', 'fed-bias', 'fed-variance', 'fed-bva', 'eat', 'eat-fed-bva'] as const;
/** A method name. */
export type MethodName = (typeof METHOD_NAMES)[number];

/** What a method sends as the shared set from round 2 on, and whether clients train adversarially. */
export interface MethodTraits {
  /** `none`; `clean` D_s; `fgsm-global`: FGSM(ε) of D_s on w_{t+1}; `bva`: BV-FGSM/PGD of D_s on the cohort. */
  sharedSet: 'none' | 'clean' | 'fgsm-global' | 'bva';
  /** The BV direction, for `bva` shared sets. */
  bva?: BvaMethod;
  /** EAT: the client loss adds CE on local FGSM examples. */
  localAdversarial: boolean;
}

/** The table of decent-bva.md §2. */
export const METHODS: Record<MethodName, MethodTraits> = {
  fedavg: { sharedSet: 'none', localAdversarial: false },
  'fedavg-ds': { sharedSet: 'clean', localAdversarial: false },
  'fedavg-at': { sharedSet: 'fgsm-global', localAdversarial: false },
  'fed-bias': { sharedSet: 'bva', bva: 'fed-bias', localAdversarial: false },
  'fed-variance': { sharedSet: 'bva', bva: 'fed-variance', localAdversarial: false },
  'fed-bva': { sharedSet: 'bva', bva: 'fed-bva', localAdversarial: false },
  eat: { sharedSet: 'clean', localAdversarial: true },
  'eat-fed-bva': { sharedSet: 'bva', bva: 'fed-bva', localAdversarial: true },
};

/** Looks up a method by name, with an error that lists the valid names. */
export function methodTraits(name: string): MethodTraits {
  if (!(METHOD_NAMES as readonly string[]).includes(name)) {
    throw new Error(`unknown method "${name}"; expected one of ${METHOD_NAMES.join(', ')}`);
  }
  return METHODS[name as MethodName];
}
