/**
 * The coordinator: a socket.io server that admits authenticated clients (admission.ts), keeps the run directory
 * (run-store.ts) and runs federated rounds of any method (decent-bva.md §2, §4) with secure aggregation
 * (secure-aggregation.md) or in plaintext. The rounds themselves are the round engine's
 * (shared/engine/round-engine.ts) over the socket.io transport (engine/socket-transport.ts), with the strategy
 * of the mode, the aggregation rule and the method (engine/coordinator-strategy.ts); this class wires them,
 * checkpoints after every round and appends per-round metrics to a JSON-lines file.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { Server, type Namespace } from 'socket.io';
import { sampleSharedSet } from '../shared/data/partition.js';
import { initialWeights, modelSpec, type ModelSpec } from '../shared/models/model.js';
import { gatherBatch, disposeBatch } from '../shared/train/batches.js';
import { resolveConfig, type FederatedConfig } from '../shared/federated/config.js';
import { ConfigError } from '../shared/federated/errors.js';
import { DEFAULT_AGGREGATION, needsRootUpdate, resolveAggregation, statefulPart, type AggregationConfig } from '../shared/federated/aggregation.js';
import { rootUpdateSource } from './engine/root-update.js';
import { evaluateWeights, type EvaluationSetup } from '../shared/federated/evaluation.js';
import { DEFAULT_TIMEOUTS_MS, maxMessageBytes, type ClientToServerEvents, type ServerToClientEvents, type SocketData } from '../shared/protocol/events.js';
import { cohortSizeOf, RoundEngine } from '../shared/engine/round-engine.js';
import type { RoundHooks } from '../shared/engine/round-metrics.js';
import { systemClock, systemDeadlines } from '../shared/engine/clock.js';
import { MaskExpander } from './mask-expansion.js';
import { ClientRegistry } from './registry.js';
import { CheckpointError, RunStore } from './run-store.js';
import { WorkerEvaluator } from './worker-evaluator.js';
import { Admission } from './admission.js';
import { tokenPrivacyProblem } from './cohort-privacy.js';
import { checkResumable, checkRuleState } from './resume-check.js';
import { listenOn } from './http-listen.js';
import { printable } from './printable.js';
import { serveBrowserPage } from './browser-pages.js';
import { ObserverHub } from './observer.js';
import type { CoordinatorOptions } from './coordinator-options.js';
import { SocketTransport } from './engine/socket-transport.js';
import { SecureSessions } from './engine/secure-sessions.js';
import { coordinatorStrategy } from './engine/coordinator-strategy.js';

export type { CoordinatorOptions } from './coordinator-options.js';
export type { RoundHooks, RoundMetrics } from '../shared/engine/round-metrics.js';

/** The coordinator. Create, `listen()`, `run()`, `close()`. */
export class Coordinator {
  readonly config: FederatedConfig;
  /** The aggregation rule in force (validated against the mode at construction). */
  readonly aggregation: AggregationConfig;
  private readonly spec: ModelSpec;
  private readonly io: Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
  private readonly http: HttpServer;
  private readonly transport: SocketTransport;
  private readonly engine: RoundEngine;
  /** Every round is done: a client that connects now gets run:end straight away. */
  private finished = false;
  private readonly enrolment: Map<string, Uint8Array> | undefined;
  private readonly registry: ClientRegistry;
  /** Mask expansion of every secure sum, on worker threads when a sum's batch is large. */
  private readonly expander = new MaskExpander();
  private readonly store: RunStore;
  private readonly log: (line: string) => void;
  private closing: Promise<void> | undefined;
  private evalWorker: WorkerEvaluator | undefined;
  /** The read-only observer namespace of the dashboard, when `observerToken` is given. */
  private readonly observers: ObserverHub | undefined;

  constructor(private readonly opts: CoordinatorOptions) {
    this.config = resolveConfig(opts.federated);
    const secure = opts.secure ?? true;
    if (secure && this.config.weighting === 'examples') {
      throw new ConfigError(
        ['weighting', 'secure'],
        'weighting = "examples" needs plaintext mode (secure: false): the secure sum weights every survivor\'s update equally (the reference\'s uniform weighting)',
      );
    }
    this.aggregation = resolveAggregation(opts.aggregation ?? DEFAULT_AGGREGATION, { secure, cohortSize: this.cohortSize() });
    this.log = opts.log ?? ((l) => console.error(l));
    const timeouts = { ...DEFAULT_TIMEOUTS_MS, ...(opts.timeoutsMs ?? {}) };
    this.enrolment = opts.enrolment !== undefined ? new Map(opts.enrolment) : undefined;
    const maxIdentitiesPerToken = opts.maxIdentitiesPerToken ?? Infinity;
    const maxConnections = opts.maxConnections ?? 10_000;
    if (!(maxIdentitiesPerToken >= 1)) throw new ConfigError('maxIdentitiesPerToken', `maxIdentitiesPerToken must be ≥ 1, got ${maxIdentitiesPerToken}`);
    if (!(maxConnections >= 1)) throw new ConfigError('maxConnections', `maxConnections must be ≥ 1, got ${maxConnections}`);
    const { train } = opts.data;
    this.spec = modelSpec(this.config.model, [train.height, train.width, train.channels], train.numClasses);
    const sharedIdx = sampleSharedSet(train.count, this.config.sharedSetSize, this.config.seed);
    const b = gatherBatch(train, sharedIdx, 0, sharedIdx.length);
    const clean = { x: Float32Array.from(b.x.dataSync()), labels: b.labels };
    disposeBatch(b);
    this.store = new RunStore(opts.runDir);
    this.registry = new ClientRegistry(this.store.identitiesPath());
    const resumed = opts.resume === true ? this.store.loadCheckpoint() : undefined;
    if (opts.resume === true && resumed === undefined) throw new CheckpointError(this.store.checkpointPath(), 'no checkpoint to resume from (start a new run instead)');
    if (resumed !== undefined) {
      checkResumable(resumed, this.config, this.spec.numParams);
      if (resumed.ruleState !== undefined) checkRuleState(this.store.checkpointPath(), resumed.ruleState, this.aggregation);
      this.log(`resumed ${opts.runDir} after round ${resumed.round}`);
    }
    const runId = resumed?.runId ?? new Uint8Array(randomBytes(16));

    const deadlines = opts.deadlines ?? systemDeadlines;
    this.transport = new SocketTransport(timeouts, this.log, deadlines);
    const shape = { height: train.height, width: train.width, channels: train.channels, numClasses: train.numClasses };
    const perImage = train.height * train.width * train.channels;
    const sessions = secure
      ? new SecureSessions({
          config: this.config,
          runId,
          identity: (id) => this.registry.identity(id),
          ...(opts.secagg !== undefined ? { secagg: opts.secagg } : {}),
          expander: this.expander,
          send: this.transport.sendStage,
          privacyProblem: (m, t, what) => this.privacyProblem(m, t, what),
          bvaShape: { ns: this.config.sharedSetSize, classes: train.numClasses, inputSize: perImage },
        })
      : undefined;
    const { strategy, rules } = coordinatorStrategy(
      this.config,
      this.spec,
      this.aggregation,
      sessions,
      { spec: this.spec, clean, shape },
      needsRootUpdate(this.aggregation) ? rootUpdateSource(this.config, this.spec, train, this.aggregation.rootSize) : undefined,
    );
    // What the aggregation keeps across rounds (centered clipping's centre, FoolsGold's histories) goes into every
    // checkpoint and comes back on resume, so the resumed rounds aggregate as the uninterrupted run's would.
    const stateful = statefulPart(this.aggregation);
    if (stateful !== undefined && rules === undefined) throw new Error(`Coordinator: '${stateful.rule}' keeps state across rounds, but its strategy holds none`);
    if (resumed?.ruleState !== undefined) {
      // checkRuleState above: a non-null state is the configured stateful rule's.
      if (resumed.ruleState !== null) rules!.restoreRuleState(resumed.ruleState.state);
    } else if (resumed !== undefined && stateful !== undefined) {
      this.log(`the checkpoint is format ${resumed.format ?? 1}, which holds no rule state: '${stateful.rule}' starts with no state from earlier rounds (as at round 1)`);
    }
    this.engine = new RoundEngine({
      config: this.config,
      strategy,
      transport: this.transport,
      clock: opts.clock ?? systemClock,
      sharedLabels: clean.labels,
      start: resumed !== undefined ? { round: resumed.round, weights: resumed.weights, shared: resumed.shared } : { round: 0, weights: initialWeights(this.spec, this.config.seed), shared: undefined },
      evaluate: (t, w) => this.evaluate(t, w),
      ...(opts.minClients !== undefined ? { minClients: opts.minClients } : {}),
      persist: (s, metrics) => {
        const ruleState = stateful !== undefined ? { at: stateful.at, kind: stateful.rule, state: rules?.ruleState } : null;
        this.store.saveCheckpoint({ ...s, config: this.config, runId, ruleState });
        this.store.appendMetrics(metrics);
      },
      log: this.log,
    });

    const cap = maxMessageBytes(this.spec.numParams, this.config.sharedSetSize * perImage, this.config.sharedSetSize * (train.numClasses + perImage));
    // socket.io answers its own path; anything else gets a 404 rather than a request left hanging.
    this.http = createServer((req, res) => {
      if (serveBrowserPage(req, res, opts.observerToken !== undefined)) return;
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`not found: ${printable(req.url ?? '')} (this is a robust-fl coordinator; clients connect over socket.io)\n`);
    });
    this.io = new Server(this.http, { maxHttpBufferSize: cap, serveClient: false });
    const admission = new Admission({
      tokens: opts.tokens,
      enrolment: this.enrolment,
      maxIdentitiesPerToken,
      maxConnections,
      registry: this.registry,
      transport: this.transport,
      connections: () => this.io.of('/').sockets.size,
      authDeadline: { ms: timeouts.auth, deadlines },
      finishedAfter: () => (this.finished ? this.engine.completedRounds : undefined),
      log: this.log,
    });
    this.io.use(admission.check);
    if (opts.observerToken !== undefined) {
      if (opts.observerToken.length === 0 || opts.tokens.has(opts.observerToken)) throw new ConfigError('observerToken', 'the observer token must be non-empty and differ from every client token');
      this.observers = new ObserverHub(this.io, opts.observerToken, this.config, secure, this.log);
      const hub = this.observers;
      this.transport.onStage = (stage, round, phase) => hub.stage(stage, round, phase);
    }
    this.io.on('connection', (socket) => {
      this.observers?.clients(this.io.of('/').sockets.size);
      const id = socket.data.clientId;
      // Clients send nothing but acknowledgements: any event from them is logged and ignored.
      socket.onAny((event: string) => this.log(`client ${id} sent unexpected event '${printable(event)}'; ignored`));
      socket.on('disconnect', (reason) => {
        if (this.transport.detach(id, socket)) this.log(`client ${id} disconnected (${reason})`);
        this.observers?.clients(this.io.of('/').sockets.size);
      });
      void admission.prove(socket);
    });
  }

  /** Starts listening; resolves with the port, or rejects with a ListenError that names the port and the fix. */
  listen(port = 0, host = '127.0.0.1'): Promise<number> {
    return listenOn(this.http, port, host);
  }

  /**
   * A namespace of this coordinator's socket.io server beside the clients' (`/`), on the same port: the simulation's
   * client hosts talk to it on `/hosts` (simulations/hosts/). Its own middleware admits whom it will; the clients'
   * admission does not apply there, and nothing sent on it reaches the round engine.
   */
  namespace(name: string): Namespace {
    if (!/^\/[a-z]+$/.test(name) || name === '/observer') throw new Error(`namespace ${name}: expected /<lower-case letters>, other than the observers'`);
    return this.io.of(name);
  }

  /** Adds a client to the enrolment list (enrolled mode only): it may then join with this key. */
  enrol(clientId: string, identityPk: Uint8Array): void {
    if (this.enrolment === undefined) throw new ConfigError('enrolment', 'this coordinator has open enrolment (no enrolment list): clients join by token');
    this.enrolment.set(clientId, Uint8Array.from(identityPk));
  }

  /**
   * Whether secure aggregation can keep this cohort's updates private, and if not why (docs/spec/secure-aggregation.md
   * §2.2; cohort-privacy.ts). With an enrolment list every identity is its own principal, so only open enrolment,
   * where one token may hold many identities, can fail it.
   */
  privacyProblem(cohort: readonly string[], threshold: number, what: 'cohort' | 'group' = 'cohort'): string | undefined {
    if (this.enrolment !== undefined) return undefined;
    // The token the identity was bound with, not the one its current connection shows.
    return tokenPrivacyProblem(cohort, threshold, what, (id) => this.registry.tokenOf(id) || (this.transport.socketOf(id)?.data.tokenDigest ?? ''));
  }

  /** The current global weights (a copy). */
  globalWeights(): Float32Array {
    return this.engine.weights.slice();
  }

  /** Last completed round. */
  get completedRounds(): number {
    return this.engine.completedRounds;
  }

  /** Ids of the connected clients, sorted. */
  connected(): string[] {
    return this.transport.connected();
  }

  /** The cohort size m = max(⌊fraction·N⌋, 1). */
  cohortSize(): number {
    return cohortSizeOf(this.config);
  }

  /** Runs rounds until `config.rounds` are completed (aborted rounds count as rounds, as the model stands). */
  async run(hooks: RoundHooks = {}): Promise<void> {
    // The evaluation worker starts with the run, so a failure to start is known before any round.
    if (this.opts.evaluateInWorker === true && this.opts.evaluator === undefined) await this.workerEvaluator().ready();
    await this.engine.run(this.observers?.hooks(hooks) ?? hooks);
    if (this.engine.completedRounds >= this.config.rounds) {
      this.observers?.end(this.engine.completedRounds);
      // From now on a client that (re)connects is told at once that the run is over (admission.ts).
      this.finished = true;
      await this.transport.endRun(this.engine.completedRounds);
    }
  }

  /** Evaluation at an evaluation round: the caller's evaluator, the worker, or the built-in one in this thread. */
  private async evaluate(t: number, weights: Float32Array): Promise<Record<string, number>> {
    if (this.opts.evaluator !== undefined) return this.opts.evaluator(t, weights);
    if (this.opts.evaluateInWorker === true) return this.workerEvaluator().evaluate(t, weights);
    return evaluateWeights(this.evaluationSetup(), t, weights);
  }

  /** The built-in evaluation's setup (also what `rfl coordinator` hands its evaluation worker). */
  evaluationSetup(): EvaluationSetup {
    return {
      spec: this.spec,
      test: this.opts.data.test,
      attacks: this.config.evalAttacks,
      eps: this.config.evalEps,
      seed: this.config.seed,
      ...(this.config.evalSubset !== undefined ? { subset: this.config.evalSubset } : {}),
      ...(this.config.autoattackSubset !== undefined ? { autoattackSubset: this.config.autoattackSubset } : {}),
    };
  }

  /** The evaluation worker, started at the first evaluation. */
  private workerEvaluator(): WorkerEvaluator {
    this.evalWorker ??= new WorkerEvaluator(this.evaluationSetup());
    return this.evalWorker;
  }

  /** Stops serving: disconnects clients and closes the server (idempotent). */
  close(): Promise<void> {
    this.engine.stop();
    this.transport.close();
    this.observers?.close();
    // socket.io's close() calls back once the HTTP server has closed too (its own promise settles before that).
    this.closing ??= Promise.all([new Promise<void>((resolve) => void this.io.close(() => resolve())), this.evalWorker?.close(), this.expander.close()]).then(() => undefined);
    return this.closing;
  }
}
