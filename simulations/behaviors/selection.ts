/**
 * Which clients are corrupted (threats-and-evaluation.md §2, "Corrupted clients: how many"): exactly round(f·m)
 * of each round's cohort of m, or round(f·N) of all N clients fixed for the run (`population`, so the count per
 * round varies). Both are seeded draws that depend only on the seed, the round and the set of ids, never on the
 * order the ids are listed in.
 *
 * round() is Math.round (halves go up: f·m = 2.5 gives 3). It also absorbs float noise such as 0.29·100 =
 * 28.999999999999996, which a floor would turn into 28.
 */
import { Rng, type RngSeed } from '../../shared/util/random.js';

/** The number of corrupted clients among `m`: round(f·m). */
export function corruptedCount(m: number, fraction: number): number {
  checkFraction(fraction);
  return Math.round(fraction * m);
}

/** The corrupted members of round `round`'s cohort: exactly round(f·m) of them, drawn with fork('corrupted').fork(round). */
export function corruptedInRound(seed: RngSeed, round: number, cohort: readonly string[], fraction: number): Set<string> {
  if (!Number.isInteger(round) || round < 1) throw new RangeError(`corruptedInRound: round must be an integer ≥ 1 (rounds are numbered from 1), got ${round}`);
  return draw(new Rng(seed).fork('corrupted').fork(round), cohort, fraction, 'cohort');
}

/** The clients corrupted for the whole run (`selection: 'population'`): round(f·N) of all N ids. */
export function corruptedPopulation(seed: RngSeed, ids: readonly string[], fraction: number): Set<string> {
  return draw(new Rng(seed).fork('corrupted').fork('population'), ids, fraction, 'ids');
}

function draw(rng: Rng, ids: readonly string[], fraction: number, what: string): Set<string> {
  // Sorted first, so the draw depends on the set of ids and not on the order the caller happens to hold them in.
  const sorted = [...ids].sort();
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] === sorted[i - 1]) throw new RangeError(`corrupted clients: ${what} lists "${sorted[i]}" twice`);
  }
  const k = corruptedCount(sorted.length, fraction);
  const picked = rng.sampleWithoutReplacement(sorted.length, k);
  return new Set(Array.from(picked, (i) => sorted[i]!));
}

function checkFraction(fraction: number): void {
  if (typeof fraction !== 'number' || !(fraction >= 0 && fraction <= 1)) {
    throw new RangeError(`corrupted fraction must be a number in [0, 1], got ${String(fraction)}`);
  }
}
