/**
 * Plaintext robust aggregation rules and pre-aggregators by name, and the pieces of grouped secure aggregation
 * that run on the coordinator (threats-and-evaluation.md §4, §5). Each rule, with its paper, its constraints and
 * its resolved ambiguities, lives in its own module under shared/robust-rules/: `median.ts`, `trimmed-mean.ts`,
 * `krum.ts` (Krum and Multi-Krum), `norm-clip.ts`, `geometric-median.ts`, `centered-clipping.ts`, `mda.ts`,
 * `monna.ts`, `meamed.ts`, `fltrust.ts`, `foolsgold.ts`, and the pre-aggregators `nnm.ts`, `bucketing.ts`,
 * `arc.ts`; `order-statistics.ts` and `distances.ts` hold what they share.
 *
 * - `aggregatePlaintext` is a pure function (updates, config, context) → aggregate: it reads nothing but its
 *   arguments and mutates none of them. What a stateful rule carries between rounds (centered clipping's centre,
 *   FoolsGold's histories) comes in as `context.state` and goes out as `result.state`, which the coordinator
 *   checkpoints after every round (rule-state-codec.ts); FLTrust's and MoNNA's root update comes in as
 *   `context.root`. Simulated adaptive attacks may call it with the rule in use.
 * - Grouping: threats-and-evaluation.md §5; the group-then-robust-rule structure is that of Karimireddy, He,
 *   Jaggi, "Byzantine-Robust Learning on Heterogeneous Datasets via Bucketing", ICLR 2022.
 * - Runtime constraints are checked against the updates received, which dropouts can make fewer than the
 *   configured cohort: Krum with m ≤ 2f + 2, a trim with 2b ≥ m or k > m throw rather than silently weaken the rule.
 * - `mean` propagates non-finite values, as it must; the robust rules treat them as the rule's module says.
 */
import type { AcrossRule, AggregationConfig, PlaintextRuleConfig, PreAggregator } from '../shared/federated/aggregation.js';
import { Rng } from '../shared/util/random.js';
import { checkUpdates, meanOf } from '../shared/robust-rules/order-statistics.js';
import { coordinateMedian } from '../shared/robust-rules/median.js';
import { coordinateTrimmedMean } from '../shared/robust-rules/trimmed-mean.js';
import { krum, multiKrum } from '../shared/robust-rules/krum.js';
import { normClip } from '../shared/robust-rules/norm-clip.js';
import { geometricMedian } from '../shared/robust-rules/geometric-median.js';
import { centeredClipping, type CenteredClippingState } from '../shared/robust-rules/centered-clipping.js';
import { mda } from '../shared/robust-rules/mda.js';
import { monna } from '../shared/robust-rules/monna.js';
import { meamed } from '../shared/robust-rules/meamed.js';
import { fltrust } from '../shared/robust-rules/fltrust.js';
import { foolsgold, type FoolsGoldState } from '../shared/robust-rules/foolsgold.js';
import { nnm } from '../shared/robust-rules/nnm.js';
import { bucketOrder, bucketing } from '../shared/robust-rules/bucketing.js';
import { arc } from '../shared/robust-rules/arc.js';

/** What a stateful rule carries from one round to the next (and a checkpoint carries across a resume). */
export type RuleState = CenteredClippingState | FoolsGoldState;

/** What a rule may need besides the updates. */
export interface AggregateContext {
  /** Run seed and round (≥ 1): bucketing's seeded shuffle. Default seed 0, round 1. */
  seed?: number;
  round?: number;
  /** The client id of each update (FoolsGold's histories are per client). */
  ids?: readonly string[];
  /** The coordinator's root update this round (FLTrust's reference, MoNNA's pivot). */
  root?: Float32Array;
  /** The state the rule returned last round (absent: the first round). */
  state?: RuleState;
}

/** What a plaintext rule returns: the aggregate and what it learnt about the individual updates. */
export interface AggregateResult {
  /** The aggregated update, length d. */
  update: Float32Array;
  /** Krum / Multi-Krum / MDA / MoNNA: indices (into the input list) of the updates kept, ascending. */
  selected?: number[];
  /** Norm clipping: the fraction of updates whose norm exceeded τ, in [0, 1]. */
  clippedFraction?: number;
  /** Norm clipping: each update's L2 norm before clipping, in input order. */
  norms?: number[];
  /** FLTrust: each update's trust score; FoolsGold: each update's weight α; in input order, in [0, 1]. */
  weights?: number[];
  /** The state for the next round (stateful rules only). */
  state?: RuleState;
}

/** Applies the pre-aggregators in order (threats-and-evaluation.md §4 "Pre-aggregators"). */
export function preAggregate(pre: readonly PreAggregator[] | undefined, updates: readonly Float32Array[], ctx: AggregateContext = {}): Float32Array[] {
  let xs = [...updates];
  (pre ?? []).forEach((p, i) => {
    const d = checkUpdates(xs, p.name);
    if (p.name === 'nnm') xs = nnm(xs, d, p.f);
    else if (p.name === 'arc') xs = arc(xs, d, p.f);
    else xs = bucketing(xs, d, p.s, bucketOrder(ctx.seed ?? 0, ctx.round ?? 1, xs.length, i));
  });
  return xs;
}

/**
 * Aggregates individual updates with a plaintext rule (threats-and-evaluation.md §4), after its pre-aggregators.
 * Every update must have the same length d; the list must be non-empty. Throws for `grouped`, which combines
 * group sums (see `combineAcross`), for FLTrust and MoNNA without `ctx.root`, and for FoolsGold without `ctx.ids`.
 */
export function aggregatePlaintext(cfg: AggregationConfig, updates: readonly Float32Array[], ctx: AggregateContext = {}): AggregateResult {
  checkUpdates(updates, cfg.rule);
  if (cfg.rule === 'grouped') throw new Error("aggregatePlaintext: 'grouped' is not a plaintext rule; combine the group means with combineAcross");
  const pre = cfg.pre;
  const xs = pre === undefined ? updates : preAggregate(pre, updates, ctx);
  const r = aggregateRule(cfg, xs, ctx);
  // After NNM or bucketing a vector is no longer one client's: the kept indices mean nothing, so none are given.
  if (r.selected !== undefined && pre?.some((p) => p.name !== 'arc') === true) delete r.selected;
  return r;
}

function aggregateRule(cfg: PlaintextRuleConfig, updates: readonly Float32Array[], ctx: AggregateContext): AggregateResult {
  const d = checkUpdates(updates, cfg.rule);
  const m = updates.length;
  switch (cfg.rule) {
    case 'mean':
      return { update: meanOf(updates, d) };
    case 'median':
      return { update: coordinateMedian(updates, d) };
    case 'trimmed-mean':
      return { update: coordinateTrimmedMean(updates, d, cfg.trim ?? Math.floor(cfg.beta * m)) };
    case 'krum':
      return krum(updates, d, cfg.f);
    case 'multi-krum':
      return multiKrum(updates, d, cfg.f, cfg.k);
    case 'norm-clip':
      return normClip(updates, d, cfg.tau);
    case 'geometric-median':
      return { update: geometricMedian(updates, d, cfg.nu, cfg.iterations) };
    case 'centered-clipping': {
      const center = ctx.state?.kind === 'centered-clipping' ? ctx.state.center : undefined;
      const update = centeredClipping(updates, d, cfg.tau, cfg.iterations, center);
      return { update, state: { kind: 'centered-clipping', center: Float32Array.from(update) } };
    }
    case 'mda':
      return mda(updates, d, cfg.f);
    case 'monna':
      return monna(updates, d, cfg.f, needRoot(ctx, 'monna'));
    case 'meamed':
      return { update: meamed(updates, d, cfg.f) };
    case 'fltrust': {
      const r = fltrust(updates, d, needRoot(ctx, 'fltrust'));
      return { update: r.update, weights: r.trust };
    }
    case 'foolsgold': {
      if (ctx.ids === undefined) throw new Error('aggregatePlaintext: foolsgold needs the client id of each update (context.ids)');
      if (cfg.pre?.some((p) => p.name !== 'arc') === true) throw new Error('aggregatePlaintext: foolsgold keeps a history per client, which mixing pre-aggregators (nnm, bucketing) destroy');
      const r = foolsgold(updates, d, ctx.ids, cfg.kappa, ctx.state?.kind === 'foolsgold' ? ctx.state : undefined);
      return { update: r.update, weights: r.weights, state: r.state };
    }
  }
}

function needRoot(ctx: AggregateContext, rule: string): Float32Array {
  if (ctx.root === undefined) throw new Error(`aggregatePlaintext: ${rule} needs the coordinator's root update (context.root)`);
  return ctx.root;
}

/**
 * Combines the group means of grouped secure aggregation (threats-and-evaluation.md §5): `median`, the trimmed
 * mean with b = ⌊beta·g⌋ for g group means (2b < g), or any rule `across` allows, with its state.
 */
export function aggregateAcross(across: AcrossRule, groupMeans: readonly Float32Array[], beta: number, ctx: AggregateContext = {}): AggregateResult {
  const name = typeof across === 'string' ? across : across.rule;
  const d = checkUpdates(groupMeans, `combineAcross(${name})`);
  if (typeof across !== 'string') {
    if (across.rule === 'fltrust' || across.rule === 'monna' || across.rule === 'foolsgold') throw new RangeError(`combineAcross: '${across.rule}' cannot combine group means`);
    return aggregatePlaintext(across, groupMeans, ctx);
  }
  if (across === 'median') return { update: coordinateMedian(groupMeans, d) };
  if (across !== 'trimmed-mean') throw new RangeError(`combineAcross: across must be 'median' or 'trimmed-mean', got ${String(across)}`);
  if (!(beta >= 0 && beta < 0.5)) throw new RangeError(`combineAcross: beta must be in [0, 0.5), got ${beta}`);
  return { update: coordinateTrimmedMean(groupMeans, d, Math.floor(beta * groupMeans.length)) };
}

/** `aggregateAcross` for a stateless rule: just the combined update. */
export function combineAcross(across: AcrossRule, groupMeans: readonly Float32Array[], beta: number, ctx: AggregateContext = {}): Float32Array {
  return aggregateAcross(across, groupMeans, beta, ctx).update;
}

/**
 * Splits a round's members at random into `groups` groups of ⌊m/g⌋ or ⌈m/g⌉ (the first m mod g groups are the
 * larger), each group's ids sorted. Deterministic for (seed, round, the set of members): members are sorted
 * (UTF-16 code-unit order) before the seeded shuffle, so the order in which they arrived does not matter.
 */
export function splitGroups(seed: number, round: number, members: readonly string[], groups: number): string[][] {
  const m = members.length;
  if (!Number.isSafeInteger(groups) || groups < 1 || groups > m) {
    throw new RangeError(`splitGroups: groups must be an integer in [1, ${m}] for ${m} members, got ${groups}`);
  }
  if (!Number.isSafeInteger(round) || round < 1) throw new RangeError(`splitGroups: round must be an integer ≥ 1 (rounds count from 1), got ${round}`);
  const order = [...members].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (let i = 1; i < m; i++) {
    if (order[i] === order[i - 1]) throw new RangeError(`splitGroups: member ${JSON.stringify(order[i])} is listed twice`);
  }
  new Rng(seed).fork('groups').fork(round).shuffle(order);
  const small = Math.floor(m / groups);
  const larger = m % groups;
  const out: string[][] = [];
  let at = 0;
  for (let g = 0; g < groups; g++) {
    const size = small + (g < larger ? 1 : 0);
    out.push(order.slice(at, at + size).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    at += size;
  }
  return out;
}
