/**
 * What the secure strategies share: a round's secure-aggregation sessions over the transport's stage sender,
 * key agreement with share-box complaints settled (secure-aggregation.md §6.1), and the cohort-wide session that
 * carries the model sum and the Decent_BVA phases (decent-bva.md §4.2).
 */
import { methodTraits } from '../../shared/federated/methods.js';
import type { FederatedConfig } from '../../shared/federated/config.js';
import type { RoundContext } from '../../shared/engine/strategy.js';
import type { StageSender } from '../../shared/engine/transport.js';
import type { RoundMetrics } from '../../shared/engine/round-metrics.js';
import type { BvaShape } from '../../shared/defense/bva-vectors.js';
import { SecAggAbortedError, SecAggConfigError, SecAggDisputeError } from '../../shared/secagg/errors.js';
import { resolveThreshold } from '../../shared/secagg/graph.js';
import type { PlannedSum } from '../../shared/secagg/messages.js';
import type { MaskExpander } from '../mask-expansion.js';
import { SecureSumSession, type SecureSumOptions } from '../secagg-session.js';
import { plannedBvaSums } from '../secure-bva-ensemble.js';

/** Why secure aggregation cannot keep a set of members private, or undefined (Coordinator.privacyProblem). */
export type PrivacyCheck = (members: readonly string[], threshold: number, what: 'cohort' | 'group') => string | undefined;

/** What secure sessions need from the coordinator. */
export interface SecureSessionsOptions {
  config: FederatedConfig;
  runId: Uint8Array;
  identity: (clientId: string) => Uint8Array | undefined;
  secagg?: Pick<SecureSumOptions, 'threshold' | 'threatModel' | 'graph' | 'maxRestarts'>;
  expander: MaskExpander;
  send: StageSender;
  privacyProblem: PrivacyCheck;
  /** The Decent_BVA vector shape (shared-set size, classes, input size). */
  bvaShape: BvaShape;
}

/** Secure-aggregation sessions of the coordinator's rounds. */
export class SecureSessions {
  constructor(readonly opts: SecureSessionsOptions) {}

  /** The threshold t of a cohort of n (the configured one, else the threat model's default). */
  cohortThreshold(n: number): number {
    return resolveThreshold(this.opts.secagg?.threshold, n, this.opts.secagg?.threatModel ?? 'honest-but-curious');
  }

  /** A session of round `t` over `cohort` for `plannedSums`. */
  newSession(t: number, cohort: string[], plannedSums: PlannedSum[], threshold?: number): SecureSumSession {
    const o = this.opts;
    return new SecureSumSession(
      { runId: o.runId, round: t, cohort, identity: o.identity, plannedSums, ...(o.secagg ?? {}), expander: o.expander, ...(threshold !== undefined ? { threshold } : {}) },
      o.send,
    );
  }

  /** The BV sums a round of `n` clients plans at key agreement (every step's phase 1 and, unless fed-bias, phase 2). */
  bvaSums(n: number): PlannedSum[] {
    const { config } = this.opts;
    const steps = config.bva.attack === 'pgd' ? config.bva.steps : 1;
    const method = methodTraits(config.method).bva;
    if (method === undefined) throw new Error(`method ${config.method} has no BV shared set`);
    return plannedBvaSums(method, config.bva.bias, steps, this.opts.bvaShape, n);
  }

  /**
   * Key agreement with share-box complaints settled: `make(members, restart)` builds a session, which is started;
   * complaints, each judged by its proof, leave out the guilty, and the key agreement starts again with fresh keys
   * over the rest. Every restart leaves out at least one client, so this ends: with a session that had no
   * complaint, or an abort below t. The left-out clients go to `metrics.excluded`.
   */
  async agreeKeys(
    ctx: Pick<RoundContext, 'round' | 'log'>,
    members: string[],
    metrics: RoundMetrics,
    make: (members: string[], restart: number) => SecureSumSession,
    what: string,
  ): Promise<{ session: SecureSumSession; members: string[] }> {
    for (let restart = 0; ; restart++) {
      const session = make(members, restart);
      try {
        await session.start();
        return { session, members };
      } catch (err) {
        if (!(err instanceof SecAggDisputeError)) throw err;
        const out = new Set(err.excluded);
        (metrics.excluded ??= []).push(...err.excluded);
        ctx.log(`round ${ctx.round}: ${what}: ${err.message}`);
        members = members.filter((id) => !out.has(id));
      }
    }
  }

  /**
   * The cohort-wide session of a round over the clients that trained, timed as `keyAgreement`: `plan(n)` gives
   * its sums for n members (again after each restart). With `checkPrivacy` the privacy check runs again on the
   * members and the session's own threshold (dropouts in training and clients left out after complaints shrink
   * the cohort, and a Harary graph has its own t); a restart never lowers the first session's threshold.
   */
  agreeCohort(ctx: RoundContext, trained: string[], plan: (n: number) => PlannedSum[], checkPrivacy: boolean): Promise<{ session: SecureSumSession; members: string[] }> {
    let t0: number | undefined;
    const t = ctx.round;
    return ctx.timed('keyAgreement', () =>
      this.agreeKeys(
        ctx,
        trained,
        ctx.metrics,
        (members, restart) => {
          let s: SecureSumSession;
          try {
            s = this.newSession(t, members, plan(members.length), t0);
          } catch (e) {
            // The first session's t does not fit the smaller cohort's graph: no restart keeps privacy.
            if (restart === 0 || !(e instanceof SecAggConfigError)) throw e;
            throw new SecAggAbortedError(
              { stage: 'setup', phase: '', attempt: restart, needed: t0 ?? 0, got: members.length },
              `secure aggregation aborted: no restart keeps t = ${t0} for the ${members.length} clients left after the share-box complaints (${e.message})`,
            );
          }
          t0 ??= s.threshold;
          const exposed = checkPrivacy ? this.opts.privacyProblem(members, s.threshold, 'cohort') : undefined;
          if (exposed !== undefined)
            throw new SecAggAbortedError({ stage: 'privacy', phase: '', attempt: restart, needed: 2, got: 0 }, `the ${restart === 0 ? '' : 'restarted '}cohort is not private: ${exposed}`);
          return s;
        },
        'the cohort',
      ),
    );
  }
}
