/**
 * The policy of a round, apart from its transport (after Flower's `Strategy`): `configureRound` says what the
 * cohort is asked, `aggregateRound` turns the trained clients into w_{t+1}. Aggregation rules (the plaintext mean,
 * the robust rules, the secure mean, grouped secure aggregation) are strategies; the shared-set defenses
 * (shared-set-defenses.ts) wrap one, as Flower's differential-privacy wrappers wrap an inner strategy.
 */
import type { BvaEnsemble } from '../defense/bva-attack.js';
import type { FederatedConfig } from '../federated/config.js';
import type { RoundAbort, RoundMetrics } from './round-metrics.js';
import type { ValidTrainReply } from './transport.js';

/** The model state a round reads and updates. */
export interface ModelState {
  /** w_t on entry; a strategy replaces it with w_{t+1}. */
  weights: Float32Array;
  /** D̂_s of the last round (flat images; labels are the clean D_s's), if the method makes one. */
  shared: Float32Array | undefined;
}

/** Times one step of a round under `name` (metrics' `ms`), announcing it to the round hooks first. */
export type Timed = <T>(name: string, step: () => Promise<T>) => Promise<T>;

/** What the runner's round record needs beyond the metrics (never written to metrics.jsonl). */
export interface RoundNotes {
  /** Whether the clients trained with the shared-set term. */
  sharedSetUsed: boolean;
  /** Ensemble sums the BV attack ran for the next shared set (0 when none). */
  bvaSums: number;
}

/** A round in progress, as a strategy sees it. */
export interface RoundContext {
  round: number;
  config: FederatedConfig;
  /**
   * Updated in place, so that a round aborted after a partial update keeps it as the coordinator always has
   * (grouped aggregation updates the model, then the BV key agreement may abort the round).
   */
  state: ModelState;
  metrics: RoundMetrics;
  notes: RoundNotes;
  timed: Timed;
  log: (line: string) => void;
}

/** A client that trained this round, with its validated reply. */
export interface TrainedClient {
  id: string;
  reply: ValidTrainReply;
}

/** What the cohort is asked this round, or why the round is refused before anyone trains. */
export interface RoundPlan {
  /** Plaintext strategies need the trained weights; secure ones must never receive them. */
  returnWeights: boolean;
  /** Whether the clients get D̂_s (a shared-set defense sets it). */
  sendSharedSet: boolean;
  /** The round is refused (e.g. a cohort secure aggregation cannot keep private): recorded as aborted. */
  refusal?: { abort: RoundAbort; clientReason: string };
}

/** What a wrapper asks of the strategy it wraps. */
export interface AggregateOptions {
  /** A Decent_BVA ensemble over this round's trained clients is wanted (secure: BV sums planned at key agreement). */
  wantEnsemble: boolean;
}

/** What an aggregation leaves for a wrapper: the ensemble, if asked for and possible, and what frees it. */
export interface AggregateOutcome {
  ensemble?: BvaEnsemble;
  release?: () => void;
}

/** A round's policy. Throws `SecAggAbortedError` to abort the round (the engine records it). */
export interface Strategy {
  configureRound(round: number, cohort: readonly string[]): RoundPlan;
  aggregateRound(ctx: RoundContext, trained: readonly TrainedClient[], options: AggregateOptions): Promise<AggregateOutcome>;
}
