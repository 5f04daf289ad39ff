/**
 * The shared-set defenses of decent-bva.md §2 as wrappers around an aggregation strategy (after Flower's
 * differential-privacy wrappers, e.g. `DifferentialPrivacyServerSideFixedClipping`, which hold an inner strategy
 * and add their step around it). The inner strategy sets w_{t+1}; the wrapper then makes D̂_s^(t) for the next
 * round by the method's rule and asks the inner strategy to send it to the clients:
 *
 * - `clean`: D_s itself (`fedavg-ds`, `eat`);
 * - `fgsm-global`: FGSM(ε) of D_s on w_{t+1} (`fedavg-at`);
 * - `bva`: BV-FGSM or BV-PGD of D_s on the round's trained clients, through the inner strategy's ensemble (sums of
 *   uploaded models in plaintext, secure sums otherwise). A BV sum that aborts, or an ensemble the inner strategy
 *   cannot give, falls back to the clean D_s (decent-bva.md §4.3).
 *
 * Methods without a shared set (`fedavg`, `pgd-at`, `trades`) get `NoSharedSet`, which only clears D̂_s, so every
 * round's metrics carry the same steps.
 */
import type { BvaEnsemble } from '../defense/bva-attack.js';
import type { FederatedConfig } from '../federated/config.js';
import { methodTraits } from '../federated/methods.js';
import { bvaSharedSet, fgsmGlobalSharedSet, type CleanSharedSet, type ImageShape } from '../federated/shared-set.js';
import { Model, type ModelSpec } from '../models/model.js';
import { SecAggAbortedError } from '../secagg/errors.js';
import type { AggregateOptions, AggregateOutcome, RoundContext, RoundPlan, Strategy, TrainedClient } from './strategy.js';

/** A shared-set defense around `inner`: aggregation first, then the next shared set (timed as `sharedSet`). */
abstract class SharedSetDefense implements Strategy {
  constructor(protected readonly inner: Strategy) {}

  /** Whether the clients train with D̂_s (when there is one). */
  protected abstract readonly sends: boolean;
  /** Whether the rule needs an ensemble over the trained clients. */
  protected abstract readonly needsEnsemble: boolean;
  /** Sets `ctx.state.shared` to D̂_s^(t). */
  protected abstract nextSharedSet(ctx: RoundContext, ensemble: BvaEnsemble | undefined): Promise<void>;

  configureRound(round: number, cohort: readonly string[]): RoundPlan {
    return { ...this.inner.configureRound(round, cohort), sendSharedSet: this.sends };
  }

  async aggregateRound(ctx: RoundContext, trained: readonly TrainedClient[], options: AggregateOptions): Promise<AggregateOutcome> {
    const out = await this.inner.aggregateRound(ctx, trained, { wantEnsemble: options.wantEnsemble || this.needsEnsemble });
    try {
      await ctx.timed('sharedSet', () => this.nextSharedSet(ctx, out.ensemble));
    } finally {
      out.release?.();
    }
    return {};
  }
}

/** No shared set: D̂_s stays undefined. */
export class NoSharedSet extends SharedSetDefense {
  protected readonly sends = false;
  protected readonly needsEnsemble = false;
  protected async nextSharedSet(ctx: RoundContext): Promise<void> {
    ctx.state.shared = undefined;
  }
}

/** The clean D_s. */
export class CleanSharedSetDefense extends SharedSetDefense {
  protected readonly sends = true;
  protected readonly needsEnsemble = false;
  constructor(
    inner: Strategy,
    private readonly clean: CleanSharedSet,
  ) {
    super(inner);
  }
  protected async nextSharedSet(ctx: RoundContext): Promise<void> {
    ctx.state.shared = this.clean.x;
  }
}

/** FGSM(ε) of D_s on w_{t+1}. */
export class FgsmGlobalSharedSet extends SharedSetDefense {
  protected readonly sends = true;
  protected readonly needsEnsemble = false;
  constructor(
    inner: Strategy,
    private readonly spec: ModelSpec,
    private readonly clean: CleanSharedSet,
    private readonly shape: ImageShape,
  ) {
    super(inner);
  }
  protected async nextSharedSet(ctx: RoundContext): Promise<void> {
    const model = new Model(this.spec, ctx.state.weights);
    try {
      ctx.state.shared = fgsmGlobalSharedSet(model, this.clean, this.shape, ctx.config, ctx.round);
    } finally {
      model.dispose();
    }
  }
}

/** BV-FGSM / BV-PGD of D_s over the inner strategy's ensemble, falling back to D_s. */
export class BvaSharedSet extends SharedSetDefense {
  protected readonly sends = true;
  protected readonly needsEnsemble = true;
  constructor(
    inner: Strategy,
    private readonly clean: CleanSharedSet,
  ) {
    super(inner);
  }
  protected async nextSharedSet(ctx: RoundContext, ensemble: BvaEnsemble | undefined): Promise<void> {
    if (ensemble === undefined) {
      ctx.state.shared = this.clean.x;
      ctx.metrics.bvaFallback = true;
      return;
    }
    try {
      const res = await bvaSharedSet(ensemble, this.clean, ctx.config, ctx.round);
      ctx.state.shared = res.xAdv;
      ctx.notes.bvaSums = res.sums.total;
    } catch (err) {
      if (!(err instanceof SecAggAbortedError)) throw err;
      ctx.state.shared = this.clean.x;
      ctx.metrics.bvaFallback = true;
      ctx.log(`round ${ctx.round}: BV sum aborted at ${err.stage} (${err.got}/${err.needed}); the clean shared set is used`);
    }
  }
}

/** What the shared-set defenses need besides the inner strategy. */
export interface SharedSetInputs {
  spec: ModelSpec;
  clean: CleanSharedSet;
  shape: ImageShape;
}

/** `inner` wrapped in the shared-set defense of `config.method`. */
export function withSharedSetDefense(config: FederatedConfig, inner: Strategy, inputs: SharedSetInputs): Strategy {
  switch (methodTraits(config.method).sharedSet) {
    case 'none':
      return new NoSharedSet(inner);
    case 'clean':
      return new CleanSharedSetDefense(inner, inputs.clean);
    case 'fgsm-global':
      return new FgsmGlobalSharedSet(inner, inputs.spec, inputs.clean, inputs.shape);
    case 'bva':
      return new BvaSharedSet(inner, inputs.clean);
  }
}
