/**
 * The evaluation attacks by name: their specifications (`AttackSpec`, what results files record), the presets of
 * docs/spec/threats-and-evaluation.md §6 (`STANDARD_ATTACKS`), and `attackAt`, a preset at another radius.
 */
import type { PgdOptions } from './pgd.js';
import type { ApgdOptions } from './apgd.js';
import type { SquareOptions } from './square.js';
import type { FabOptions } from './fab.js';

/** One stage of a suite (AutoAttack): its name and specification. */
export interface SuiteComponent {
  name: string;
  spec: AttackSpec;
}

/** Black-box transfer: PGD crafted on surrogates trained on held-out data, evaluated on the target model. */
export interface TransferOptions extends PgdOptions {
  /** Surrogate model names (`surrogate-a` … `surrogate-d`); with several, an example is robust only if every one fails. */
  surrogates: string[];
  /** Training epochs of each surrogate (≥ 1). */
  epochs: number;
  /** Seed of each surrogate's initial weights and shuffles (the cache key holds it). */
  surrogateSeed: number;
}

/** An attack to evaluate under; `none` is clean accuracy. */
export type AttackSpec =
  | { kind: 'none' }
  | { kind: 'fgsm'; eps: number }
  | ({ kind: 'pgd' } & PgdOptions)
  | ({ kind: 'apgd' } & ApgdOptions)
  | ({ kind: 'square' } & SquareOptions)
  | ({ kind: 'fab' } & FabOptions)
  | { kind: 'autoattack'; eps: number; components: SuiteComponent[]; seed?: number }
  | ({ kind: 'transfer' } & TransferOptions);

/** The ε every preset of STANDARD_ATTACKS is written for. */
export const STANDARD_EPS = 0.3;

const E = STANDARD_EPS;
/** AutoAttack's standard components (Croce & Hein 2020, version `standard`, L∞). */
const APGD_CE: AttackSpec = { kind: 'apgd', eps: E, loss: 'ce', steps: 100, restarts: 1, randomStart: true, rho: 0.75, momentum: 0.75, initialStep: 2 };
const APGD_T: AttackSpec = { kind: 'apgd', eps: E, loss: 'dlr-targeted', targets: 9, steps: 100, restarts: 1, randomStart: true, rho: 0.75, momentum: 0.75, initialStep: 2 };
const SQUARE: AttackSpec = { kind: 'square', eps: E, queries: 5000, pInit: 0.8 };
const FAB_T: AttackSpec = { kind: 'fab', eps: E, steps: 100, targets: 9, alphaMax: 0.1, eta: 1.05, beta: 0.9 };
/** Transfer: PGD-40 with the strong protocol's step on each surrogate; surrogates trained 10 epochs, seed 1. */
const transferOn = (surrogates: string[]): AttackSpec => ({ kind: 'transfer', surrogates, eps: E, alpha: (2.5 * E) / 40, steps: 40, randomStart: true, epochs: 10, surrogateSeed: 1 });
/** The four surrogates of docs/spec/decent-bva.md §8. */
export const SURROGATES = ['surrogate-a', 'surrogate-b', 'surrogate-c', 'surrogate-d'] as const;

/**
 * The attacks of threats-and-evaluation.md, ε = 0.3 on [0,1] pixels: the reference protocol (FGSM; PGD-10/20
 * with α = 0.01, random start, 1 restart), the strong protocol (PGD-40, α = 2.5·ε/steps, random start,
 * 5 restarts), `pgd-20-madry` (PGD-20 with α = 2.5·ε/20), the attacks of AutoAttack (APGD-CE, APGD-DLR, APGD-T,
 * FAB-T, Square) and the suite itself, and black-box transfer from the surrogates A–D.
 */
export const STANDARD_ATTACKS: Record<string, AttackSpec> = {
  clean: { kind: 'none' },
  fgsm: { kind: 'fgsm', eps: E },
  'pgd-10': { kind: 'pgd', eps: E, alpha: 0.01, steps: 10, randomStart: true },
  'pgd-20': { kind: 'pgd', eps: E, alpha: 0.01, steps: 20, randomStart: true },
  'pgd-20-madry': { kind: 'pgd', eps: E, alpha: (2.5 * E) / 20, steps: 20, randomStart: true },
  'pgd-strong': { kind: 'pgd', eps: E, alpha: (2.5 * E) / 40, steps: 40, randomStart: true, restarts: 5 },
  'apgd-ce': APGD_CE,
  'apgd-dlr': { ...APGD_CE, loss: 'dlr' } as AttackSpec,
  'apgd-t': APGD_T,
  'fab-t': FAB_T,
  square: SQUARE,
  autoattack: {
    kind: 'autoattack',
    eps: E,
    components: [
      { name: 'apgd-ce', spec: APGD_CE },
      { name: 'apgd-t', spec: APGD_T },
      { name: 'fab-t', spec: FAB_T },
      { name: 'square', spec: SQUARE },
    ],
  },
  transfer: transferOn([...SURROGATES]),
  'transfer-A': transferOn(['surrogate-a']),
  'transfer-B': transferOn(['surrogate-b']),
  'transfer-C': transferOn(['surrogate-c']),
  'transfer-D': transferOn(['surrogate-d']),
};

/** Kinds whose cost calls for the smaller image count `autoattackSubset` (the AutoAttack family). */
export const COSTLY_KINDS: ReadonlySet<AttackSpec['kind']> = new Set(['apgd', 'fab', 'square', 'autoattack']);

/** Kinds that read tensors synchronously while they run (not on WebGPU in Node: run them on the CPU workers). */
export const SYNC_KINDS: ReadonlySet<AttackSpec['kind']> = new Set(['apgd', 'fab', 'square', 'autoattack', 'transfer']);

/**
 * A standard attack at radius `eps`: ε and the step size scale together (α·steps/ε stays as in the preset), so
 * `pgd-20` at ε = 0.1 has α = 0.01/3. APGD's, FAB's and Square's steps are already in units of ε or need none. At ε = 0.3 it is the
 * preset itself.
 */
export function attackAt(name: string, eps: number = STANDARD_EPS): AttackSpec {
  const s = STANDARD_ATTACKS[name];
  if (s === undefined) throw new Error(`unknown attack "${name}"; expected one of ${Object.keys(STANDARD_ATTACKS).join(', ')}`);
  if (!(eps > 0 && eps <= 1)) throw new Error(`attack ${name}: eps = ${eps}; expected a number in (0, 1]`);
  return scaleTo(s, eps);
}

/** `s` at radius `eps` (see `attackAt`). */
export function scaleTo(s: AttackSpec, eps: number): AttackSpec {
  if (s.kind === 'none') return s;
  if (eps === STANDARD_EPS) return s;
  const k = eps / STANDARD_EPS;
  switch (s.kind) {
    case 'fgsm':
    case 'apgd':
    case 'fab':
    case 'square':
      return { ...s, eps };
    case 'pgd':
    case 'transfer':
      return { ...s, eps, alpha: s.alpha * k };
    case 'autoattack':
      return { ...s, eps, components: s.components.map((c) => ({ name: c.name, spec: scaleTo(c.spec, eps) })) };
  }
}

/** `s` with its random draws seeded by `seed` (every kind that draws; the others unchanged). */
export function withSeed(s: AttackSpec, seed: number): AttackSpec {
  switch (s.kind) {
    case 'none':
    case 'fgsm':
      return s;
    case 'autoattack':
      return { ...s, seed, components: s.components.map((c, i) => ({ name: c.name, spec: withSeed(c.spec, (seed * 131 + i) >>> 0) })) };
    default:
      return { ...s, seed };
  }
}

/** Short component name of a surrogate: `surrogate-a` → `A`. */
export function surrogateLetter(name: string): string {
  const m = /^surrogate-([a-z])$/.exec(name);
  return m !== null ? m[1]!.toUpperCase() : name;
}
