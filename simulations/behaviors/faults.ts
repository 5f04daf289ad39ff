/**
 * Faults (threats-and-evaluation.md §3, project behaviours): when a `crash` client stops answering, and how long
 * a `straggler` waits before each reply. Pure and seeded: the engine turns a plan into a socket disconnect or a
 * withheld ack, and a delay into a wait on its (injectable) clock.
 */
import { Rng, type RngSeed } from '../../shared/util/random.js';
import type { BehaviorSpec, CrashSpec, FaultStage } from './spec.js';

/** What a crashing client does in a round: stop at `stage` (in sum `sum`, or the first sum when unset). */
export interface CrashPlan {
  stage: FaultStage;
  /** The secure sum it stops in; undefined means the first sum that reaches `stage`. */
  sum?: string;
  mode: CrashSpec['mode'];
  /** Whether it rejoins at the next round. */
  rejoin: boolean;
}

/**
 * The crash of client `clientId` in round `round` (numbered from 1), or undefined when it does not crash then
 * (or the behaviour is not a crash). With `rounds: {p}` each (client, round) is an independent draw from
 * `new Rng(seed).fork('crash').fork(clientId).fork(round)`, so the answer never depends on call order.
 * `rejoin: false` is the engine's to enforce: after the first crash the client stays gone, whatever this says
 * about later rounds.
 */
export function crashPlan(spec: BehaviorSpec, seed: RngSeed, clientId: string, round: number): CrashPlan | undefined {
  if (spec.kind !== 'crash') return undefined;
  if (!Number.isInteger(round) || round < 1) throw new RangeError(`crashPlan: round must be an integer ≥ 1 (rounds are numbered from 1), got ${round}`);
  const { rounds } = spec;
  let crashes: boolean;
  if (rounds === 'all') crashes = true;
  else if (Array.isArray(rounds)) crashes = rounds.includes(round);
  else crashes = new Rng(seed).fork('crash').fork(clientId).fork(round).bernoulli(rounds.p);
  if (!crashes) return undefined;
  const plan: CrashPlan = { stage: spec.stage, mode: spec.mode, rejoin: spec.rejoin };
  if (spec.sum !== undefined) plan.sum = spec.sum;
  return plan;
}

/**
 * The delay in milliseconds a straggler adds before its reply at `stage`, or undefined when that stage is not
 * delayed (any other stage name, e.g. `reshare`, or a behaviour that is not a straggler). Uniform delays are a + (b − a)·U, exponential ones −mean·ln(1 − U)
 * with U uniform on [0, 1) from `rng` (one draw per call; fixed delays draw nothing).
 */
export function stragglerDelayMs(spec: BehaviorSpec, rng: Rng, stage: string): number | undefined {
  if (spec.kind !== 'straggler' || !(spec.stages as readonly string[]).includes(stage)) return undefined;
  const delay = spec.delayMs;
  if (typeof delay === 'number') return delay;
  if ('uniform' in delay) {
    const [a, b] = delay.uniform;
    return a + (b - a) * rng.float();
  }
  return -delay.exponentialMean * Math.log(1 - rng.float());
}
