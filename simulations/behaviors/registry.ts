/**
 * User-registered corrupted-client behaviours: `registerBehavior(kind, implementation)` adds a kind a scenario can
 * name in `corrupted.behavior.kind`, next to the ten built-in ones (spec.ts). An implementation corrupts a
 * client's training data (`poisonData`, run in the pool worker that trains the client), its update
 * (`transformUpdate`, run in the main thread on Δ = w_trained − w_global), and optionally its Decent_BVA
 * contributions (`transformBva`, with `corrupted.poisonBva: true`). Faults (crashes, delays) stay built in.
 *
 * Registrations are per thread: a module listed in a scenario's `extensions` is imported by the main thread and
 * by every pool worker, so both see the same kinds (simulations/extensions.ts). Docs: docs/own-model.md.
 */
import { ConfigError } from '../../shared/federated/errors.js';
import type { Rng } from '../../shared/util/random.js';
import type { LocalData } from './data.js';
import { BEHAVIOR_KINDS, type BehaviorContext } from './spec.js';
import type { UpdateContext } from './update.js';

/** A behaviour's options: the scenario's behaviour object without `kind`, as `parse` returned it. */
export type BehaviorOptions = Record<string, unknown>;

/** What `poisonData` returns: the client's examples after poisoning (same count and shape). */
export interface PoisonResult {
  /** count·height·width·channels floats in [0, 1] (NHWC). */
  images: Float32Array;
  /** One label per example, each in [0, numClasses). */
  labels: Uint8Array;
  /** The indices of the examples changed (optional, for diagnostics). */
  poisoned?: Int32Array;
}

/** A corrupted-client behaviour; give at least one of `poisonData` and `transformUpdate`. */
export interface BehaviorImplementation<O extends BehaviorOptions = BehaviorOptions> {
  /** One line for listings and errors. */
  description?: string;
  /**
   * Validates the scenario's options (the behaviour object without `kind`) and fills defaults; throw an Error
   * whose message names the option, e.g. `factor must be a number > 0`. `context.numClasses` is set when known.
   * Default: the options as written. Must return plain data (it travels to worker threads).
   */
  parse?(options: BehaviorOptions, context: BehaviorContext): O;
  /**
   * Poisons a corrupted client's local examples before it trains (runs in a pool worker). `data` holds private
   * copies the function may change and return. Draw randomness only from `rng` (seeded per client and round).
   */
  poisonData?(data: LocalData, options: O, rng: Rng): PoisonResult;
  /**
   * The update Δ a corrupted client sends instead of its own (`update`, not to be modified); a new Float32Array
   * of the same length. `ctx` has the cohort size m, the corrupted count f, a seeded `rng`, and, when
   * `needsHonestUpdates`, the round's honest updates.
   */
  transformUpdate?(update: Float32Array, options: O, ctx: UpdateContext): Float32Array;
  /** True when `transformUpdate` needs `ctx.honest` (the simulation-only oracle of the honest clients' updates). */
  needsHonestUpdates?: boolean;
  /**
   * With `corrupted.poisonBva: true`: replaces the client's Decent_BVA contributions (the P, B and V arrays), each
   * a new array of the same length. Without it, `poisonBva: true` is refused for this kind.
   */
  transformBva?(values: readonly Float32Array[], options: O, ctx: { m: number; rng: Rng }): Float32Array[];
}

const registry = new Map<string, BehaviorImplementation>();

/**
 * Registers a behaviour kind in this thread (replacing an earlier registration of that kind); the built-in
 * kinds cannot be replaced. Throws a ConfigError when the implementation is malformed.
 */
export function registerBehavior<O extends BehaviorOptions>(kind: string, implementation: BehaviorImplementation<O>): void {
  const where = `registerBehavior(${JSON.stringify(kind)})`;
  if (typeof kind !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(kind)) {
    throw new ConfigError('corrupted.behavior.kind', `${where}: a kind is letters, digits, '.', '_' and '-', starting with a letter or digit`);
  }
  if ((BEHAVIOR_KINDS as readonly string[]).includes(kind)) throw new ConfigError('corrupted.behavior.kind', `${where}: ${kind} is a built-in behaviour and cannot be replaced; choose another kind`);
  const impl = implementation as BehaviorImplementation<BehaviorOptions> | null;
  if (impl === null || typeof impl !== 'object') throw new ConfigError('corrupted.behavior.kind', `${where}: the implementation must be an object, got ${impl === null ? 'null' : typeof impl}`);
  for (const f of ['parse', 'poisonData', 'transformUpdate', 'transformBva'] as const) {
    if (impl[f] !== undefined && typeof impl[f] !== 'function') throw new ConfigError('corrupted.behavior.kind', `${where}: ${f} must be a function, got ${typeof impl[f]}`);
  }
  if (impl.poisonData === undefined && impl.transformUpdate === undefined) {
    throw new ConfigError('corrupted.behavior.kind', `${where}: give poisonData(data, options, rng) or transformUpdate(update, options, ctx) (or both); a behaviour with neither does nothing`);
  }
  registry.set(kind, impl);
}

/** The implementation of a registered kind, if any (never a built-in one). */
export function behaviorImplementation(kind: string): BehaviorImplementation | undefined {
  return registry.get(kind);
}

/** Kinds registered in this thread, sorted. */
export function registeredBehaviorKinds(): string[] {
  return [...registry.keys()].sort();
}
