/** Seeds every part of a federation derives from the run seed, so networked and in-process runs agree. */
import { Rng } from '../util/random.js';

/** The seed of a client's local training in round t (independent of the method and of the cohort). */
export function clientSeed(seed: number, round: number, clientId: string): number {
  return new Rng(seed).fork('client-train').fork(round).fork(clientId).nextUint32();
}

/** The round's cohort: `m` of the sorted `pool` ids, drawn from the run seed and the round number. */
export function drawCohort(seed: number, round: number, pool: readonly string[], m: number): string[] {
  const draw = new Rng(seed).fork('cohort').fork(round).sampleWithoutReplacement(pool.length, Math.min(m, pool.length));
  return Array.from(draw)
    .sort((a, b) => a - b)
    .map((i) => pool[i]!);
}
