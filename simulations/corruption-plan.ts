/**
 * Which virtual clients are corrupted in which round, and what that does to them (threats-and-evaluation.md
 * §2–§3). A corrupted client runs the real client protocol; only its data, its update or its replies change:
 * data poisoning goes to the worker with the training task, update transforms wrap its trainer
 * (`CorruptedTrainer`), crashes and delays go through the session's `beforeReply` hook.
 */
import type { ReplyDecision } from '../client/session.js';
import type { Stage } from '../shared/secagg/messages.js';
import { Rng } from '../shared/util/random.js';
import {
  PER_SUM_STAGES,
  corruptedInRound,
  corruptedPopulation,
  crashPlan,
  dataPoisonOf,
  isBuiltinBehavior,
  poisonsData,
  stragglerDelayMs,
  type AnyBehaviorSpec,
  type CorruptionSpec,
} from './behaviors/index.js';

/** A reply a corrupted client holds back: never (a silent crash) or for `ms` milliseconds (a straggler). */
export interface WithheldReply {
  id: string;
  stage: 'train' | Stage;
  round: number;
  phase: string;
  mode: 'silent' | 'delay';
  ms?: number;
}

/** The corrupted-client plan of a run. */
export class CorruptionPlan {
  private readonly population: Set<string> | undefined;
  private readonly perRound = new Map<number, { cohort: readonly string[]; corrupted: Set<string> }>();
  /** Clients that disconnected on purpose this round and rejoin before the next one. */
  readonly rejoining = new Set<string>();

  constructor(
    readonly spec: CorruptionSpec | undefined,
    private readonly seed: number,
    ids: readonly string[],
    /** Waits `ms` milliseconds (injectable so tests need no real delays). */
    // unref: a straggler still sleeping when the run ends must not keep the process alive.
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms).unref()),
    /** Told when a corrupted client holds back a reply (tests expire the coordinator's deadlines on it, not on time). */
    private readonly onWithhold: (at: WithheldReply) => void = () => undefined,
  ) {
    this.population = spec !== undefined && spec.selection === 'population' ? corruptedPopulation(seed, ids, spec.fraction) : undefined;
  }

  /** Fixes round `round`'s corrupted members from its cohort; returns them and the honest members. */
  startRound(round: number, cohort: readonly string[]): { corrupted: Set<string>; honest: string[] } {
    let corrupted: Set<string>;
    if (this.spec === undefined) corrupted = new Set();
    else if (this.population !== undefined) corrupted = new Set(cohort.filter((id) => this.population!.has(id)));
    else corrupted = corruptedInRound(this.seed, round, cohort, this.spec.fraction);
    this.perRound.set(round, { cohort, corrupted });
    return { corrupted, honest: cohort.filter((id) => !corrupted.has(id)) };
  }

  /** Whether `id` is corrupted in `round` (population mode also answers for rounds not started here). */
  isCorrupted(round: number, id: string): boolean {
    const r = this.perRound.get(round);
    if (r !== undefined) return r.corrupted.has(id);
    return this.population?.has(id) ?? false;
  }

  /** Cohort size m and corrupted count f of a started round. */
  roundInfo(round: number): { m: number; f: number } {
    const r = this.perRound.get(round);
    return r === undefined ? { m: 1, f: 1 } : { m: r.cohort.length, f: r.corrupted.size };
  }

  /** The corrupted members of a started round, sorted (empty for a round not started here). */
  corruptedIds(round: number): string[] {
    return [...(this.perRound.get(round)?.corrupted ?? [])].sort();
  }

  /** Forgets rounds up to `round`. */
  endRound(round: number): void {
    for (const r of [...this.perRound.keys()]) if (r <= round) this.perRound.delete(r);
  }

  /** The data poisoning of `id` in `round`, if any. */
  poisonFor(id: string, round: number): { behavior: AnyBehaviorSpec; seed: number } | undefined {
    if (this.spec === undefined || !this.isCorrupted(round, id)) return undefined;
    // Label flipping and backdoors poison data; model replacement scales an update trained on such data; a
    // registered behaviour with poisonData poisons in the worker that trains the client.
    const b = this.spec.behavior;
    const behavior = isBuiltinBehavior(b) ? dataPoisonOf(b) : poisonsData(b) ? b : undefined;
    return behavior === undefined ? undefined : { behavior, seed: new Rng(this.seed).fork('poison').fork(round).fork(id).nextUint32() };
  }

  /** The seeded stream of `id`'s update transform in `round`. */
  rngFor(id: string, round: number, purpose: string): Rng {
    return new Rng(this.seed).fork('behavior').fork(purpose).fork(round).fork(id);
  }

  /** The session hook of client `id`: crashes and delays of a corrupted client; honest clients always answer. */
  beforeReply(id: string): (at: { stage: 'train' | Stage; round: number; phase: string }) => Promise<ReplyDecision> {
    return async ({ stage, round, phase }) => {
      const b = this.spec?.behavior;
      if (b === undefined || !isBuiltinBehavior(b) || !this.isCorrupted(round, id)) return 'answer';
      if (b.kind === 'crash') {
        const plan = crashPlan(b, this.seed, id, round);
        if (plan === undefined || plan.stage !== stage) return 'answer';
        if (plan.sum !== undefined && (PER_SUM_STAGES as readonly string[]).includes(stage) && plan.sum !== phase) return 'answer';
        if (plan.mode === 'disconnect' && plan.rejoin) this.rejoining.add(id);
        if (plan.mode === 'silent') this.onWithhold({ id, stage, round, phase, mode: 'silent' });
        return plan.mode === 'disconnect' ? 'disconnect' : 'silent';
      }
      if (b.kind === 'straggler') {
        const ms = stragglerDelayMs(b, this.rngFor(id, round, `delay-${stage}-${phase}`), stage);
        if (ms !== undefined && ms > 0) {
          this.onWithhold({ id, stage, round, phase, mode: 'delay', ms });
          await this.sleep(ms);
        }
      }
      return 'answer';
    };
  }
}
