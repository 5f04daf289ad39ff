/**
 * The round engine: the one implementation of a federated round, used by the coordinator (over socket.io) and by
 * the in-process runner (over the in-memory transport). It knows no socket, timer or wire encoding: clients are
 * reached through a `RoundTransport`, policy comes from a `Strategy`, time from a `Clock`.
 *
 * A round (decent-bva.md §4): draw m of the connected clients (seeded, so every method sees the same cohorts);
 * let the strategy refuse the cohort or say what to ask; send w_t and D̂_s^(t−1) with `round:train`; hand the
 * clients that trained to the strategy, which sets w_{t+1} (and, wrapped by a shared-set defense, D̂_s^(t)); tell
 * the cohort the round is over; evaluate every `evalEvery` rounds and after the last. A `SecAggAbortedError`
 * from the strategy ends the round as aborted with the model as the strategy left it.
 */
import type { FederatedConfig } from '../federated/config.js';
import { localAdversarial } from '../federated/profile.js';
import { clientSeed, drawCohort } from '../federated/seeds.js';
import type { TrainRequest } from '../protocol/events.js';
import { toWire } from '../protocol/wire.js';
import { SecAggAbortedError } from '../secagg/errors.js';
import type { Clock } from './clock.js';
import type { RoundHooks, RoundMetrics } from './round-metrics.js';
import type { ModelState, RoundContext, RoundNotes, Strategy, TrainedClient } from './strategy.js';
import type { RoundTransport } from './transport.js';

/** The cohort size m = max(⌊fraction·N⌋, 1). */
export function cohortSizeOf(config: Pick<FederatedConfig, 'fraction' | 'numClients'>): number {
  return Math.max(Math.floor(config.fraction * config.numClients), 1);
}

/** Where a completed round is persisted (the coordinator's run store). */
export type RoundPersister = (state: { round: number; weights: Float32Array; shared: Float32Array | undefined }, metrics: RoundMetrics) => void;

/** Options of a round engine. */
export interface RoundEngineOptions {
  config: FederatedConfig;
  strategy: Strategy;
  transport: RoundTransport;
  clock: Clock;
  /** The labels of the clean shared set D_s, sent with D̂_s. */
  sharedLabels: Uint8Array;
  /** Where the run starts: round 0 and the initial weights, or a checkpoint's round, weights and D̂_s. */
  start: { round: number; weights: Float32Array; shared: Float32Array | undefined };
  /** Evaluates a copy of w_{t+1} at evaluation rounds. */
  evaluate: (round: number, weights: Float32Array) => Promise<Record<string, number>>;
  /** Rounds of `run` wait until this many clients are connected (default: the cohort size m). */
  minClients?: number;
  /** Called after every round of `run`, before the round hook (the checkpoint cadence: every round). */
  persist?: RoundPersister;
  log?: (line: string) => void;
}

/** A round's metrics and what the in-process runner's record adds. */
export interface RoundOutcome {
  metrics: RoundMetrics;
  notes: RoundNotes;
}

/** Drives rounds; see the file comment. */
export class RoundEngine {
  private readonly state: ModelState;
  private round: number;
  private stopped = false;
  private readonly log: (line: string) => void;

  constructor(private readonly opts: RoundEngineOptions) {
    this.state = { weights: opts.start.weights, shared: opts.start.shared };
    this.round = opts.start.round;
    this.log = opts.log ?? (() => undefined);
  }

  /** The current global weights (not a copy). */
  get weights(): Float32Array {
    return this.state.weights;
  }

  /** D̂_s made in the last round, if any. */
  get shared(): Float32Array | undefined {
    return this.state.shared;
  }

  /** Last completed round. */
  get completedRounds(): number {
    return this.round;
  }

  /** Stops `run` at the next step; a round in progress is lost, exactly as if the process had been killed. */
  stop(): void {
    this.stopped = true;
  }

  /** Runs rounds until `config.rounds` are completed (aborted rounds count as rounds, as the model stands). */
  async run(hooks: RoundHooks = {}): Promise<void> {
    const m = cohortSizeOf(this.opts.config);
    while (this.round < this.opts.config.rounds && !this.stopped) {
      await this.opts.transport.waitForClients(this.opts.minClients ?? m, this.round + 1);
      if (this.stopped) break;
      const { metrics } = await this.runRound(this.round + 1, hooks);
      if (this.stopped) break;
      this.round++;
      this.opts.persist?.({ round: this.round, weights: this.state.weights, shared: this.state.shared }, metrics);
      this.log(
        `round ${metrics.round}: ${metrics.status}${metrics.abort !== undefined ? ` at ${metrics.abort.stage} (${metrics.abort.got}/${metrics.abort.needed}): ${metrics.abort.reason}` : ''}, ` +
          `${metrics.trained}/${metrics.cohort.length} trained${metrics.eval !== undefined ? `, accuracy ${JSON.stringify(metrics.eval)}` : ''}`,
      );
      await hooks.onRound?.(metrics);
    }
  }

  /** Runs round `t` over the connected clients (`run` calls it; the in-process runner calls it directly). */
  async runRound(t: number, hooks: RoundHooks = {}): Promise<RoundOutcome> {
    const { config, transport, strategy, clock } = this.opts;
    const ms: Record<string, number> = {};
    const timed = async <T>(name: string, step: () => Promise<T>): Promise<T> => {
      hooks.onPhase?.(t, name);
      const t0 = clock.now();
      try {
        return await step();
      } finally {
        ms[name] = (ms[name] ?? 0) + clock.now() - t0;
      }
    };
    const bytes0 = transport.bytesSent;
    const cohort = drawCohort(config.seed, t, transport.connected(), cohortSizeOf(config));
    const metrics: RoundMetrics = { round: t, status: 'completed', cohort, trained: 0, dropouts: 0, ms, bytesSent: 0 };
    const notes: RoundNotes = { sharedSetUsed: false, bvaSums: 0 };
    await hooks.onRoundStart?.(t, cohort);
    const plan = strategy.configureRound(t, cohort);
    if (plan.refusal !== undefined) {
      metrics.status = 'aborted';
      metrics.abort = plan.refusal.abort;
      transport.endRound(cohort, { round: t, status: 'aborted', reason: plan.refusal.clientReason });
      return { metrics, notes };
    }

    // 1. Local training.
    const sharedSet = plan.sendSharedSet && this.state.shared !== undefined ? { x: toWire(this.state.shared), labels: this.opts.sharedLabels } : undefined;
    notes.sharedSetUsed = sharedSet !== undefined;
    const requests = new Map(cohort.map((id) => [id, this.trainRequest(t, id, sharedSet, plan.returnWeights)]));
    const replies = await timed('train', () => transport.sendAndReceive(requests));
    const trained: TrainedClient[] = cohort.flatMap((id) => {
      const r = replies.get(id);
      return r?.ok === true ? [{ id, reply: r.reply }] : [];
    });
    metrics.trained = trained.length;
    metrics.dropouts = cohort.length - trained.length;
    if (trained.length > 0) metrics.trainLoss = trained.reduce((a, c) => a + c.reply.loss, 0) / trained.length;

    // 2. Aggregation (and, wrapped, the next shared set).
    const ctx: RoundContext = { round: t, config, state: this.state, metrics, notes, timed, log: this.log };
    try {
      await strategy.aggregateRound(ctx, trained, { wantEnsemble: false });
    } catch (err) {
      if (!(err instanceof SecAggAbortedError)) throw err;
      metrics.status = 'aborted';
      metrics.abort = { stage: err.stage, phase: err.phase, needed: err.needed, got: err.got, reason: err.message };
    }
    const endReason = metrics.abort === undefined ? undefined : metrics.abort.stage === 'range-check' ? 'sum out of range (a corrupt masked input)' : `${metrics.abort.stage} below threshold`;
    transport.endRound(cohort, { round: t, status: metrics.status, ...(endReason !== undefined ? { reason: endReason } : {}) });

    // 3. Evaluation.
    if (metrics.status === 'completed' && (t % config.evalEvery === 0 || t === config.rounds)) {
      metrics.eval = await timed('eval', () => this.opts.evaluate(t, this.state.weights.slice()));
    }
    metrics.bytesSent = transport.bytesSent - bytes0;
    return { metrics, notes };
  }

  private trainRequest(t: number, id: string, sharedSet: TrainRequest['sharedSet'], returnWeights: boolean): TrainRequest {
    const { config } = this.opts;
    const adversarial = localAdversarial(config, t);
    return {
      round: t,
      model: config.model,
      weights: toWire(this.state.weights),
      ...(sharedSet !== undefined ? { sharedSet } : {}),
      train: {
        epochs: config.localEpochs,
        batchSize: config.batchSize,
        lr: config.lr,
        momentum: config.momentum,
        seed: clientSeed(config.seed, t, id),
        sharedLossWeight: config.sharedLossWeight,
        ...(adversarial !== undefined ? { adversarial } : {}),
      },
      returnWeights,
    };
  }
}
