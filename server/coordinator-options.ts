/**
 * The options of a coordinator (server/coordinator.ts), apart from it so that the class stays the socket.io
 * adapter: the federated protocol, the mode and aggregation rule, who may join, and where the run is kept.
 */
import type { DatasetSplit } from '../shared/data/dataset.js';
import type { FederatedConfigInput } from '../shared/federated/config.js';
import type { DEFAULT_TIMEOUTS_MS } from '../shared/protocol/events.js';
import type { Clock, Deadlines } from '../shared/engine/clock.js';
import type { SecureSumOptions } from './secagg-session.js';

/** Options of a coordinator. */
export interface CoordinatorOptions {
  /** The federated protocol (method, rounds, clients N, fraction, local training, BV options, seed). */
  federated: FederatedConfigInput;
  /**
   * Data the coordinator owns: D_s is drawn from `data.train` with the run seed (clients exclude the same
   * indices when they partition the same dataset); `data.test` is used for evaluation.
   */
  data: DatasetSplit;
  /** Secure aggregation (default) or plaintext mode (for comparison and plaintext-only robust rules). */
  secure?: boolean;
  /**
   * How updates are combined (threats-and-evaluation.md §4, §5): `mean` (default), a plaintext robust rule
   * (median, trimmed-mean, krum, multi-krum, norm-clip, geometric-median, centered-clipping, mda, monna, meamed,
   * fltrust, foolsgold, any of them with `pre` pre-aggregators; refused with secure aggregation) or `grouped`
   * secure aggregation (a secure sum per group, then a robust rule `across` the group means).
   */
  aggregation?: unknown;
  /** Secure-aggregation options (threshold, threat model, graph, restarts). */
  secagg?: Pick<SecureSumOptions, 'threshold' | 'threatModel' | 'graph' | 'maxRestarts'>;
  /** Accepted tokens; a client must present one (any token, when an enrolment list admits clients by key). */
  tokens: ReadonlySet<string>;
  /**
   * The token of the read-only observer namespace `/observer` behind the live dashboard at `/` (server/observer.ts);
   * without it there is no observer namespace and `/` says so. It must not be one of `tokens`.
   */
  observerToken?: string;
  /**
   * The enrolment list (server/enrolment.ts): client id → identity key. When given, only listed clients with their
   * listed key are admitted, and each counts as its own principal in the privacy check. Without it, enrolment is
   * open: any token holder may bind new identities, up to `maxIdentitiesPerToken`, and a token's identities
   * count as one principal.
   */
  enrolment?: ReadonlyMap<string, Uint8Array>;
  /** Open enrolment: the most identities one token may bind (default unlimited; `rfl coordinator` sets 1). */
  maxIdentitiesPerToken?: number;
  /** The most connections at once, proven or not (default 10,000). */
  maxConnections?: number;
  /** Directory for checkpoints, metrics and the identity registry. */
  runDir: string;
  /** Continue from the run directory's last completed round. */
  resume?: boolean;
  /** Per-stage timeouts (ms). */
  timeoutsMs?: Partial<typeof DEFAULT_TIMEOUTS_MS>;
  /**
   * Where those timeouts run out (shared/engine/clock.ts). Default: the event loop's timers. Tests inject
   * deadlines that pass when the test says, so no result depends on the machine's speed.
   */
  deadlines?: Deadlines;
  /** The clock of the round metrics' time split (shared/engine/clock.ts). Default: `performance.now()`. */
  clock?: Clock;
  /** Rounds wait until this many clients are connected (default: the cohort size m). */
  minClients?: number;
  /** Logger (default console.error). */
  log?: (line: string) => void;
  /**
   * Evaluation at evaluation rounds, replacing the built-in one (config.evalAttacks on the test set, in this
   * thread): a simulation spreads it over its worker pool and adds its own measures (e.g. backdoor success).
   */
  evaluator?: (round: number, weights: Float32Array) => Promise<Record<string, number>>;
  /**
   * Run the built-in evaluation in a worker thread (server/worker-evaluator.ts), so the event loop keeps answering
   * clients through a long evaluation; `rfl coordinator` sets it. Default false (in this thread).
   */
  evaluateInWorker?: boolean;
}
