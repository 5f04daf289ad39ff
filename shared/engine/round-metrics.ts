/**
 * What the round engine reports: one `RoundMetrics` per round (a JSON line of the coordinator's metrics.jsonl)
 * and the hooks a caller awaits between rounds. Key order matters: metrics.jsonl is compared byte for byte, so
 * the engine and the strategies fill these fields in a fixed order.
 */

/** Observations of each BV sum of a secure round, for the round record (survivors and clipped fraction). */
export interface BvaSumInfo {
  phase: string;
  survivors: number;
  attempts: number;
  /** Fraction of the summed coordinates that clients clipped to [−1, 1]. */
  clippedFraction: number;
}

/** Why a round was discarded: the stage, the sum, how many were needed and got, and the error's message. */
export interface RoundAbort {
  stage: string;
  phase: string;
  needed: number;
  got: number;
  reason: string;
}

/** What happened in a round (one JSON line of metrics.jsonl). */
export interface RoundMetrics {
  round: number;
  status: 'completed' | 'aborted';
  /** Why the round was discarded: the stage, the sum, how many were needed and got, and the error's message. */
  abort?: RoundAbort;
  cohort: string[];
  trained: number;
  survivors?: number;
  /** Cohort members that did not train (failed, timed out or left before replying to round:train). */
  dropouts: number;
  /** Secure mode: trained clients missing from the model sum's survivors (dropped during secure aggregation). */
  secaggDropouts?: string[];
  /** Secure mode: clients left out after share-box complaints (the sender of garbage, or the false accuser). */
  excluded?: string[];
  bvaFallback?: boolean;
  bvaSums?: BvaSumInfo[];
  /**
   * Plaintext robust rules: which updates were kept (Krum, Multi-Krum, MDA, MoNNA), the clipped fraction (norm
   * clipping), each client's weight (FLTrust's trust score, FoolsGold's α) by id.
   */
  robust?: { selected?: string[]; clippedFraction?: number; weights?: Record<string, number> };
  /** Grouped secure aggregation: each group's size and survivors (0 when its sum aborted or the group was refused as not private). */
  groups?: { size: number; survivors: number; refused?: 'privacy' }[];
  trainLoss?: number;
  ms: Record<string, number>;
  bytesSent: number;
  eval?: Record<string, number>;
}

/** Round hooks (awaited, so a simulation can act between rounds). */
export interface RoundHooks {
  /** The round's cohort is drawn; called before any request goes out. */
  onRoundStart?: (round: number, cohort: readonly string[]) => unknown;
  /** A step of the round begins (`train`, `keyAgreement`, `modelSum`, `sharedSet`, `eval`). */
  onPhase?: (round: number, phase: string) => void;
  /** The round is over and checkpointed. */
  onRound?: (m: RoundMetrics) => unknown;
}
