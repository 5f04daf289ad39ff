/**
 * SecAgg+ parameters sized for a promise (Bell et al., CCS 2020, "Secure single-server aggregation with
 * (poly)logarithmic overhead", §3–4): the degree k and threshold t of the Harary graph over a random labelling
 * (graph.ts) chosen from the cohort size n, the declared dropout rate δ and corrupted fraction γ, so that a round
 * aborts with probability at most 2^−failureBits (default 2^−20 ≈ 9.5e−7) and breaks privacy with probability at
 * most 2^−securityBits (default 2^−40), the two targets of Google's parameter finder.
 *
 * Each client's k neighbours are a uniformly random k-subset of the others, so the number of dropped (corrupted)
 * neighbours of one client is hypergeometric: D ~ Hyp(n − 1, ⌈δn⌉, k), C ~ Hyp(n − 1, ⌈γn⌉, k). The events, each
 * bounded by a union bound over the n clients:
 * - **abort**: a dropped client's mask key needs t of its k neighbours alive (D' > k − t), and an alive client
 *   needs t of its k + 1 holders (itself included) alive (D > k + 1 − t); the first is the stricter;
 * - **privacy, semi-honest** (honest-but-curious coordinator): t shares held by corrupted neighbours reconstruct a
 *   client's secrets (C ≥ t);
 * - **privacy, semi-malicious** (active coordinator, which may lie about who dropped and so collect shares of both
 *   secrets of a client from different honest holders): C ≥ 2t − (k + 1);
 * - **disconnection**: the honest survivors' graph falls apart, so a sum would reveal a partial sum. On the Harary
 *   graph this needs two runs of k/2 consecutive removed (dropped or corrupted) clients in the random cyclic order;
 *   bounded by (n·ρ^{k/2})² with ρ = δ + γ.
 *
 * The smallest even k (k + 1 ≤ min(n, 255)) with some t meeting both bounds wins; of its thresholds, the largest
 * that meets them (the most colluders needed). Settings no k can meet are refused with the best probabilities reachable. For δ = γ = 5 % at
 * n = 100 this gives Google's tabulated (k, t) = (12, 6) (secure-aggregation.md §8).
 *
 * Ambiguities resolved: dropout and corruption are taken as fixed counts ⌈δn⌉ and ⌈γn⌉ (the worst case the rates
 * declare), not as independent coin flips; the disconnection bound counts removed runs from any start, an
 * over-count.
 */
import { SecAggConfigError } from './errors.js';
import { MAX_SHARES } from './shamir.js';
import type { GraphAdversary } from './graph.js';

/** What the parameters must withstand. */
export interface SizingRequest {
  /** Cohort size (integer ≥ 3). */
  n: number;
  /** Declared dropout rate δ in [0, 1): the fraction of the cohort that may drop during a round. */
  dropout: number;
  /** Declared corrupted fraction γ in [0, 1): clients colluding with the coordinator. */
  corrupted: number;
  adversary: GraphAdversary;
  /** Target abort probability 2^−failureBits (default 20). */
  failureBits?: number;
  /** Target probability of a privacy breach (corrupted shares, disconnection) 2^−securityBits (default 40). */
  securityBits?: number;
}

/** The chosen parameters and their failure bounds. */
export interface SizedParams {
  k: number;
  t: number;
  /** Union bounds, each over the whole cohort. */
  pAbort: number;
  pPrivacy: number;
  pDisconnect: number;
  /** pAbort + pPrivacy + pDisconnect. */
  pFail: number;
  /** pPrivacy + pDisconnect: the security side. */
  pSecurity: number;
}

/** Chooses (k, t) for the request, or throws SecAggConfigError naming what cannot be met. */
export function sizeSecAggPlus(req: SizingRequest): SizedParams {
  const { n, dropout, corrupted, adversary } = req;
  const bits = req.failureBits ?? 20;
  if (!Number.isSafeInteger(n) || n < 3) throw new SecAggConfigError('n', `cohort size n must be an integer ≥ 3, got ${String(n)}`);
  if (!(dropout >= 0 && dropout < 1)) throw new SecAggConfigError('dropout', `dropout rate must be in [0, 1), got ${String(dropout)}`);
  if (!(corrupted >= 0 && corrupted < 1)) throw new SecAggConfigError('corrupted', `corrupted fraction must be in [0, 1), got ${String(corrupted)}`);
  if (dropout + corrupted >= 1) throw new SecAggConfigError('dropout', `dropout ${dropout} + corrupted ${corrupted} leaves no honest survivor`);
  const target = 2 ** -bits;
  const securityTarget = 2 ** -(req.securityBits ?? 40);
  const dropped = Math.ceil(dropout * n);
  const bad = Math.ceil(corrupted * n);
  const kMax = Math.min(n - 1, MAX_SHARES - 1);
  let best: SizedParams | undefined;
  const score = (p: SizedParams): number => Math.max(p.pAbort / target, p.pSecurity / securityTarget);
  for (let k = 2; k <= kMax; k += 2) {
    const rho = Math.min(1, (dropped + bad) / n);
    const pDisconnect = Math.min(1, (n * rho ** (k / 2)) ** 2);
    let kBest: SizedParams | undefined;
    let feasible: SizedParams | undefined;
    for (let t = 2; t <= k + 1; t++) {
      // A dropped client's key: its k − 1 other neighbours are drawn from n − 2 clients of which dropped − 1 dropped.
      const pAbort = dropped === 0 ? 0 : Math.min(1, n * hyperTailAbove(n - 2, Math.max(dropped - 1, 0), k, k - t));
      const need = adversary === 'semi-malicious' ? 2 * t - (k + 1) : t;
      const pPrivacy = bad === 0 ? 0 : need <= 0 ? 1 : Math.min(1, n * hyperTailAbove(n - 1, bad, k, need - 1));
      const p = { k, t, pAbort, pPrivacy, pDisconnect, pSecurity: pPrivacy + pDisconnect, pFail: pAbort + pPrivacy + pDisconnect };
      if (kBest === undefined || score(p) < score(kBest)) kBest = p;
      // The largest threshold that still meets the abort target: the most colluders needed to break privacy.
      if (p.pAbort <= target && p.pSecurity <= securityTarget) feasible = p;
    }
    if (feasible !== undefined) return feasible;
    if (kBest !== undefined && (best === undefined || score(kBest) < score(best))) best = kBest;
  }
  throw new SecAggConfigError(
    'dropout',
    `no SecAgg+ graph of n = ${n} meets abort ≤ 2^-${bits} and privacy breach ≤ 2^-${req.securityBits ?? 40} at dropout ${dropout} and corrupted ${corrupted} (${adversary}): ` +
      `the best, k = ${best?.k} and t = ${best?.t}, aborts with probability ${best?.pAbort.toExponential(2)} and breaks privacy with ${best?.pSecurity.toExponential(2)}; lower the rates, enlarge the cohort, or use the complete graph`,
  );
}

/** P[X > x] for X ~ Hypergeometric(population N, successes K, draws k). */
export function hyperTailAbove(N: number, K: number, k: number, x: number): number {
  const lo = Math.max(0, k - (N - K));
  const hi = Math.min(k, K);
  if (x >= hi) return 0;
  let sum = 0;
  const denom = logChoose(N, k);
  for (let i = Math.max(x + 1, lo); i <= hi; i++) sum += Math.exp(logChoose(K, i) + logChoose(N - K, k - i) - denom);
  return Math.min(1, sum);
}

/** ln C(n, k). */
function logChoose(n: number, k: number): number {
  if (k < 0 || k > n) return -Infinity;
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

// Lanczos approximation (g = 7, 9 terms): |relative error| < 1e-13 for the arguments used here (≥ 1).
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x ≥ 1. */
function logGamma(x: number): number {
  const z = x - 1;
  let a = LANCZOS[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}
