/**
 * The coordinator: a socket.io server that registers authenticated clients and runs federated rounds of any
 * method (decent-bva.md §2, §4) with secure aggregation (secure-aggregation.md) or in plaintext, checkpoints
 * after every completed round and appends per-round metrics to a JSON-lines file.
 *
 * A round: sample m = max(⌊fraction·N⌋, 1) of the connected clients (seeded, so every method sees the same
 * cohorts); `round:train` sends w_t and D̂_s^(t−1); then, in secure mode, one key agreement and the sums
 * `model` (the clients' updates Δ = w_k − w_t) and the Decent_BVA phases; in plaintext mode the clients upload
 * their weights. A failed or late reply shrinks the survivor set; a model-sum abort ends the round with w
 * unchanged; a BV abort keeps the model update and falls back to the clean shared set (decent-bva.md §4.3).
 */
import { createServer, type Server as HttpServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { Server, type Socket } from 'socket.io';
import type { DatasetSplit } from '../shared/data/dataset.js';
import { sampleSharedSet } from '../shared/data/partition.js';
import { initialWeights, Model, modelSpec, type ModelSpec } from '../shared/models/model.js';
import { gatherBatch, disposeBatch } from '../shared/train/batches.js';
import { localAdversarial } from '../shared/federated/profile.js';
import { bvaSharedSet, fgsmGlobalSharedSet } from '../shared/federated/shared-set.js';
import { plaintextEnsemble, type BvaEnsemble } from '../shared/defense/bva-attack.js';
import { methodTraits } from '../shared/federated/methods.js';
import { resolveConfig, type FederatedConfig, type FederatedConfigInput } from '../shared/federated/config.js';
import { SecureSumSession, type SecureSumOptions } from './secagg-session.js';
import { MaskExpander } from './mask-expansion.js';
import { plannedBvaSums, secureEnsemble, type BvaSumInfo } from './secure-bva-ensemble.js';
import { SecAggAbortedError, SecAggConfigError, SecAggDisputeError } from '../shared/secagg/errors.js';

/** Fresh starts of a round's secure aggregation after share-box complaints (each leaves at least one client out). */
import type { VectorSpec } from '../shared/secagg/quantize.js';
import { applyMeanUpdate, MODEL_PHASE, modelUpdate, modelUpdateSpec } from '../shared/federated/secure-model.js';
import { clientSeed, drawCohort } from '../shared/federated/seeds.js';
import type { PlannedSum, Stage } from '../shared/secagg/messages.js';
import { DEFAULT_TIMEOUTS_MS, maxMessageBytes, type Ack, type ClientToServerEvents, type ServerToClientEvents, type SocketData, type TrainReply, type TrainRequest } from '../shared/protocol/events.js';
import { ProtocolError } from '../shared/protocol/errors.js';
import { encodeSecAggRequest, parseHello, parseIdentityProof, parseSecAggReply, parseTrainReply } from '../shared/protocol/schemas.js';
import { proofNonce, verifyProof } from '../shared/protocol/identity-proof.js';
import { pack, toWire, unpack, type Packed } from '../shared/protocol/wire.js';
import { ClientRegistry, tokenDigest } from './registry.js';
import { resolveThreshold } from '../shared/secagg/graph.js';
import { ConfigError } from '../shared/federated/errors.js';
import { DEFAULT_AGGREGATION, resolveAggregation, type AggregationConfig } from '../shared/federated/aggregation.js';
import { aggregatePlaintext, combineAcross, splitGroups } from './robust-aggregators.js';
import { CheckpointError, RunStore, type Checkpoint } from './run-store.js';
import { evaluateWeights, type EvaluationSetup } from './evaluation.js';
import { WorkerEvaluator } from './worker-evaluator.js';

/** A client connection as the coordinator types it. */
type ServerSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

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
   * (median, trimmed-mean, krum, multi-krum, norm-clip; refused with secure aggregation) or `grouped` secure
   * aggregation (a secure sum per group, then median or trimmed mean across the group means).
   */
  aggregation?: unknown;
  /** Secure-aggregation options (threshold, threat model, graph, restarts). */
  secagg?: Pick<SecureSumOptions, 'threshold' | 'threatModel' | 'graph' | 'maxRestarts'>;
  /** Accepted tokens; a client must present one (any token, when an enrolment list admits clients by key). */
  tokens: ReadonlySet<string>;
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

/** Round hooks of `Coordinator.run` (awaited, so a simulation can act between rounds). */
export interface RoundHooks {
  /** The round's cohort is drawn; called before any request goes out. */
  onRoundStart?: (round: number, cohort: readonly string[]) => unknown;
  /** A step of the round begins (`train`, `keyAgreement`, `modelSum`, `sharedSet`, `eval`). */
  onPhase?: (round: number, phase: string) => void;
  /** The round is over and checkpointed. */
  onRound?: (m: RoundMetrics) => unknown;
}

/** What happened in a round (one JSON line of metrics.jsonl). */
export interface RoundMetrics {
  round: number;
  status: 'completed' | 'aborted';
  /** Why the round was discarded: the stage, the sum, how many were needed and got, and the error's message. */
  abort?: { stage: string; phase: string; needed: number; got: number; reason: string };
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
  /** Plaintext robust rules: which updates were kept (Krum), the clipped fraction (norm clipping). */
  robust?: { selected?: string[]; clippedFraction?: number };
  /** Grouped secure aggregation: each group's size and survivors (0 when its sum aborted or the group was refused as not private). */
  groups?: { size: number; survivors: number; refused?: 'privacy' }[];
  trainLoss?: number;
  ms: Record<string, number>;
  bytesSent: number;
  eval?: Record<string, number>;
}

/** The coordinator. Create, `listen()`, `run()`, `close()`. */
export class Coordinator {
  readonly config: FederatedConfig;
  /** The aggregation rule in force (validated against the mode at construction). */
  readonly aggregation: AggregationConfig;
  private readonly spec: ModelSpec;
  private readonly io: Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
  private readonly http: HttpServer;
  private readonly sockets = new Map<string, ServerSocket>();
  /** Every round is done: a client that connects now gets run:end straight away. */
  private finished = false;
  /** Open enrolment: connections still proving a new identity, by socket id (counted against the token's cap). */
  private readonly pendingClaims = new Map<string, { token: string; clientId: string }>();
  private readonly enrolment: Map<string, Uint8Array> | undefined;
  private readonly maxIdentitiesPerToken: number;
  private readonly maxConnections: number;
  private readonly registry: ClientRegistry;
  /** Mask expansion of every secure sum, on worker threads when a sum's batch is large. */
  private readonly expander = new MaskExpander();
  private readonly store: RunStore;
  private readonly timeouts: typeof DEFAULT_TIMEOUTS_MS;
  private readonly log: (line: string) => void;
  private readonly secure: boolean;
  private readonly sharedIdx: Int32Array;
  private readonly clean: { x: Float32Array; labels: Uint8Array };
  private readonly runId: Uint8Array;
  private weights: Float32Array;
  private shared: Float32Array | undefined;
  private round = 0;
  private bytesSent = 0;
  private waiters: (() => void)[] = [];
  private closed = false;

  constructor(private readonly opts: CoordinatorOptions) {
    this.config = resolveConfig(opts.federated);
    this.secure = opts.secure ?? true;
    if (this.secure && this.config.weighting === 'examples') {
      throw new ConfigError(['weighting', 'secure'], 'weighting = "examples" needs plaintext mode (secure: false): the secure sum weights every survivor\'s update equally (the reference\'s uniform weighting)');
    }
    this.aggregation = resolveAggregation(opts.aggregation ?? DEFAULT_AGGREGATION, { secure: this.secure, cohortSize: this.cohortSize() });
    this.log = opts.log ?? ((l) => console.error(l));
    this.timeouts = { ...DEFAULT_TIMEOUTS_MS, ...(opts.timeoutsMs ?? {}) };
    this.enrolment = opts.enrolment !== undefined ? new Map(opts.enrolment) : undefined;
    this.maxIdentitiesPerToken = opts.maxIdentitiesPerToken ?? Infinity;
    this.maxConnections = opts.maxConnections ?? 10_000;
    if (!(this.maxIdentitiesPerToken >= 1)) throw new ConfigError('maxIdentitiesPerToken', `maxIdentitiesPerToken must be ≥ 1, got ${this.maxIdentitiesPerToken}`);
    if (!(this.maxConnections >= 1)) throw new ConfigError('maxConnections', `maxConnections must be ≥ 1, got ${this.maxConnections}`);
    const { train } = opts.data;
    this.spec = modelSpec(this.config.model, [train.height, train.width, train.channels], train.numClasses);
    this.sharedIdx = sampleSharedSet(train.count, this.config.sharedSetSize, this.config.seed);
    const b = gatherBatch(train, this.sharedIdx, 0, this.sharedIdx.length);
    this.clean = { x: b.x.dataSync().slice() as Float32Array, labels: b.labels };
    disposeBatch(b);
    this.store = new RunStore(opts.runDir);
    this.registry = new ClientRegistry(this.store.identitiesPath());
    const resumed = opts.resume === true ? this.store.loadCheckpoint() : undefined;
    if (opts.resume === true && resumed === undefined) throw new CheckpointError(this.store.checkpointPath(), 'no checkpoint to resume from (start a new run instead)');
    if (resumed !== undefined) {
      this.checkResumable(resumed);
      this.weights = resumed.weights;
      this.shared = resumed.shared;
      this.round = resumed.round;
      this.runId = resumed.runId;
      this.log(`resumed ${opts.runDir} after round ${resumed.round}`);
    } else {
      this.weights = initialWeights(this.spec, this.config.seed);
      this.runId = new Uint8Array(randomBytes(16));
    }
    const perImage = train.height * train.width * train.channels;
    const cap = maxMessageBytes(this.spec.numParams, this.config.sharedSetSize * perImage, this.config.sharedSetSize * (train.numClasses + perImage));
    // socket.io answers its own path; anything else gets a 404 rather than a request left hanging.
    this.http = createServer((req, res) => {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`not found: ${printable(req.url ?? '')} (this is a robust-fl coordinator; clients connect over socket.io)\n`);
    });
    this.io = new Server(this.http, { maxHttpBufferSize: cap, serveClient: false });
    this.io.use((socket, next) => {
      try {
        const hello = parseHello(socket.handshake.auth);
        // With an enrolment list the enrolled key is the credential and tokens are optional.
        if ((this.enrolment === undefined || opts.tokens.size > 0) && !opts.tokens.has(hello.token)) throw new ProtocolError('auth', 'invalid token');
        // Counted after the token check, over authenticated connections only, so strangers cannot fill it.
        if (this.io.of('/').sockets.size >= this.maxConnections) throw new ProtocolError('busy', `the coordinator holds its maximum of ${this.maxConnections} connections; try again later`);
        if (this.enrolment !== undefined) {
          const enrolled = this.enrolment.get(hello.clientId);
          if (enrolled === undefined) throw new ProtocolError('not-enrolled', `client ${hello.clientId} is not enrolled (rfl coordinator enrol)`);
          if (Buffer.compare(Buffer.from(enrolled), Buffer.from(hello.identityPk)) !== 0) throw new ProtocolError('not-enrolled', `client ${hello.clientId} is enrolled with another identity key`);
        } else {
          // Open enrolment: a token binds at most maxIdentitiesPerToken identities (Sybils cost tokens), counting the
          // claims still proving themselves, so many connections at once cannot slip past the cap.
          if (!this.registry.has(hello.clientId) && this.claimsOfToken(tokenDigest(hello.token), hello.clientId) >= this.maxIdentitiesPerToken) {
            throw new ProtocolError('sybil-cap', `this token has bound its maximum of ${this.maxIdentitiesPerToken} client identities; enrol clients (rfl coordinator enrol) or use one token per client`);
          }
        }
        // Only a check here: the id is bound to the key once the client has proved it holds the key.
        this.registry.check(hello.clientId, hello.identityPk);
        socket.data.clientId = hello.clientId;
        socket.data.identityPk = hello.identityPk;
        socket.data.tokenDigest = tokenDigest(hello.token);
        if (this.enrolment === undefined && !this.registry.has(hello.clientId)) this.pendingClaims.set(socket.id, { token: socket.data.tokenDigest, clientId: hello.clientId });
        next();
      } catch (err) {
        const e = err instanceof ProtocolError ? err : new ProtocolError('auth', (err as Error).message);
        this.log(`refused a connection: ${e.code}: ${e.message}`);
        next(Object.assign(new Error(e.message), { data: { code: e.code } }));
      }
    });
    this.io.on('connection', (socket) => {
      const id = socket.data.clientId;
      // Clients send nothing but acknowledgements: any event from them is logged and ignored.
      socket.onAny((event: string) => this.log(`client ${id} sent unexpected event '${printable(event)}'; ignored`));
      socket.on('disconnect', (reason) => {
        if (this.sockets.get(id) === socket) {
          this.sockets.delete(id);
          this.log(`client ${id} disconnected (${reason})`);
        }
      });
      void this.proveIdentity(socket);
    });
  }

  /**
   * The identity challenge (shared/protocol/identity-proof.ts): a connection joins `sockets` (and so can be
   * drawn into a cohort) only once it has signed a fresh nonce with the key it claimed. A proven connection
   * replaces an older one of the same identity (a client that reconnected before its old socket timed out).
   */
  private async proveIdentity(socket: ServerSocket): Promise<void> {
    try {
      await this.proveIdentityOnce(socket);
    } finally {
      this.pendingClaims.delete(socket.id);
    }
  }

  private async proveIdentityOnce(socket: ServerSocket): Promise<void> {
    const id = socket.data.clientId;
    const pk = socket.data.identityPk;
    const nonce = proofNonce();
    try {
      const res = await ackOrTimeout(socket, 'auth:challenge', { nonce: Buffer.from(nonce).toString('hex') }, this.timeouts.auth);
      const signature = parseIdentityProof(res);
      if (!verifyProof(nonce, id, pk, signature)) throw new ProtocolError('auth', `client ${id}: the identity proof does not verify against the claimed key`);
      if (this.enrolment === undefined && !this.registry.has(id) && this.registry.identitiesOfToken(socket.data.tokenDigest) >= this.maxIdentitiesPerToken) {
        throw new ProtocolError('sybil-cap', `this token has bound its maximum of ${this.maxIdentitiesPerToken} client identities`);
      }
      this.registry.bind(id, pk, this.enrolment !== undefined ? '' : socket.data.tokenDigest);
    } catch (err) {
      const e = err instanceof ProtocolError ? err : new ProtocolError('auth', (err as Error).message);
      this.log(`refused client ${id}: ${e.code}: ${e.message}`);
      if (socket.connected) {
        socket.emit('auth:refused', { code: e.code, message: e.message });
        socket.disconnect(true);
      }
      return;
    }
    if (!socket.connected) return;
    const stale = this.sockets.get(id);
    this.sockets.set(id, socket);
    if (stale !== undefined && stale !== socket) {
      this.log(`client ${id} proved its identity on a new connection; closing its older one`);
      stale.disconnect(true);
    }
    this.log(`client ${id} connected (${this.sockets.size} connected)`);
    socket.emit('auth:accepted');
    if (this.finished) socket.emit('run:end', { rounds: this.round }, () => undefined);
    for (const w of this.waiters.splice(0)) w();
  }

  private checkResumable(c: Checkpoint): void {
    if (c.weights.length !== this.spec.numParams) throw new Error(`resume: checkpoint has ${c.weights.length} weights, model ${this.config.model} has ${this.spec.numParams}`);
    // Re-resolved, so a checkpoint written before a configuration field existed compares with its default.
    let stored: unknown = c.config;
    try {
      stored = resolveConfig(c.config as unknown as FederatedConfigInput);
    } catch {
      // An invalid stored configuration simply differs.
    }
    const differ = differingFields(stored, this.config);
    if (differ.length > 0) {
      const shown = differ.slice(0, 5).map((f) => `${f} (checkpoint ${JSON.stringify(fieldAt(stored, f))}, now ${JSON.stringify(fieldAt(this.config, f))})`).join(', ');
      throw new ConfigError(differ, `resume: the configuration differs from the checkpoint's in ${shown}${differ.length > 5 ? ` and ${differ.length - 5} more` : ''}; resume with the checkpoint's configuration`);
    }
  }

  /** Starts listening; resolves with the port, or rejects with a ListenError that names the port and the fix. */
  async listen(port = 0, host = '127.0.0.1'): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        const why = err.code === 'EADDRINUSE' ? `port ${port} is in use: choose another --port, or 0 for a free one`
          : err.code === 'EACCES' ? `port ${port} needs privileges: choose a port above 1023`
          : err.code === 'EADDRNOTAVAIL' ? `address ${host} is not on this machine: choose another --host`
          : err.message;
        reject(Object.assign(new Error(`cannot listen on ${host}:${port}: ${why} [${err.code ?? 'error'}]`), { name: 'ListenError', fields: ['port'] }));
      };
      this.http.once('error', onError);
      this.http.listen(port, host, () => {
        this.http.off('error', onError);
        resolve();
      });
    });
    const addr = this.http.address();
    return typeof addr === 'object' && addr !== null ? addr.port : port;
  }

  /** Identities a token holds or is claiming: those bound to it plus distinct new ids still proving themselves. */
  private claimsOfToken(token: string, except: string): number {
    const pending = new Set([...this.pendingClaims.values()].filter((c) => c.token === token && c.clientId !== except).map((c) => c.clientId));
    return this.registry.identitiesOfToken(token) + pending.size;
  }

  /** Adds a client to the enrolment list (enrolled mode only): it may then join with this key. */
  enrol(clientId: string, identityPk: Uint8Array): void {
    if (this.enrolment === undefined) throw new ConfigError('enrolment', 'this coordinator has open enrolment (no enrolment list): clients join by token');
    this.enrolment.set(clientId, Uint8Array.from(identityPk));
  }

  /**
   * Whether secure aggregation can keep this cohort's updates private, and if not why (docs/spec/secure-aggregation.md
   * §2.2). A sum reveals one member's update to whoever controls all the others, so every principal (an enrolled
   * identity; under open enrolment, a token, since one token may hold many identities) must leave at least two
   * members outside its control, and must hold fewer than t members (t shares reconstruct a secret).
   */
  privacyProblem(cohort: readonly string[], threshold: number, what: 'cohort' | 'group' = 'cohort'): string | undefined {
    if (this.enrolment !== undefined) return undefined;
    const byToken = new Map<string, number>();
    for (const id of cohort) {
      // The token the identity was bound with, not the one its current connection shows.
      const t = this.registry.tokenOf(id) || (this.sockets.get(id)?.data.tokenDigest ?? '');
      byToken.set(t, (byToken.get(t) ?? 0) + 1);
    }
    const [, most] = [...byToken].reduce((a, b) => (b[1] > a[1] ? b : a), ['', 0]);
    if (cohort.length - most < 2 || most >= threshold) {
      return `${most} of the ${cohort.length} ${what} members joined with one token, so its holder could learn another member's update ` +
        `(needs at least 2 members outside any one token's control and fewer than t = ${threshold} inside it); enrol clients (rfl coordinator enrol) or give each its own token`;
    }
    return undefined;
  }

  /** The secure-aggregation threshold t of a cohort of n (the configured one, else the threat model's default). */
  private cohortThreshold(n: number): number {
    return resolveThreshold(this.opts.secagg?.threshold, n, this.opts.secagg?.threatModel ?? 'honest-but-curious');
  }

  /** The current global weights (a copy). */
  globalWeights(): Float32Array {
    return this.weights.slice();
  }

  /** Last completed round. */
  get completedRounds(): number {
    return this.round;
  }

  /** Ids of the connected clients, sorted. */
  connected(): string[] {
    return [...this.sockets.keys()].sort();
  }

  private async waitForClients(n: number): Promise<void> {
    // Said once per wait, so a run that stalls for want of clients says why rather than sitting silent.
    if (this.sockets.size < n && !this.closed) this.log(`waiting for clients: round ${this.round + 1} needs ${n} connected, ${this.sockets.size} are`);
    while (this.sockets.size < n && !this.closed) await new Promise<void>((r) => this.waiters.push(r));
  }

  /** The cohort size m = max(⌊fraction·N⌋, 1). */
  cohortSize(): number {
    return Math.max(Math.floor(this.config.fraction * this.config.numClients), 1);
  }

  /** Runs rounds until `config.rounds` are completed (aborted rounds count as rounds, as the model stands). */
  async run(hooks: RoundHooks = {}): Promise<void> {
    const m = this.cohortSize();
    // The evaluation worker starts with the run, so a failure to start is known before any round.
    if (this.opts.evaluateInWorker === true && this.opts.evaluator === undefined) await this.workerEvaluator().ready();
    while (this.round < this.config.rounds && !this.closed) {
      await this.waitForClients(this.opts.minClients ?? m);
      if (this.closed) break;
      const metrics = await this.runRound(this.round + 1, m, hooks);
      // Stopped mid-round: the round in progress is lost, exactly as if the process had been killed.
      if (this.closed) break;
      this.round++;
      this.store.saveCheckpoint({ round: this.round, weights: this.weights, shared: this.shared, config: this.config, runId: this.runId });
      this.store.appendMetrics(metrics);
      this.log(`round ${metrics.round}: ${metrics.status}${metrics.abort !== undefined ? ` at ${metrics.abort.stage} (${metrics.abort.got}/${metrics.abort.needed}): ${metrics.abort.reason}` : ''}, ` +
        `${metrics.trained}/${metrics.cohort.length} trained${metrics.eval !== undefined ? `, accuracy ${JSON.stringify(metrics.eval)}` : ''}`);
      await hooks.onRound?.(metrics);
    }
    if (this.round >= this.config.rounds) {
      // From now on a client that (re)connects is told at once that the run is over (proveIdentity).
      this.finished = true;
      // Acknowledged, so the notice reaches clients before the server closes.
      await Promise.allSettled([...this.sockets.values()].map((s) => new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2000);
        s.emit('run:end', { rounds: this.round }, () => {
          clearTimeout(timer);
          resolve();
        });
      })));
    }
  }

  private async runRound(t: number, m: number, hooks: RoundHooks): Promise<RoundMetrics> {
    const traits = methodTraits(this.config.method);
    const ms: Record<string, number> = {};
    const timed = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
      hooks.onPhase?.(t, name);
      const t0 = performance.now();
      try {
        return await f();
      } finally {
        ms[name] = (ms[name] ?? 0) + performance.now() - t0;
      }
    };
    const bytes0 = this.bytesSent;
    const pool = this.connected();
    const cohort = drawCohort(this.config.seed, t, pool, m);
    const metrics: RoundMetrics = { round: t, status: 'completed', cohort, trained: 0, dropouts: 0, ms, bytesSent: 0 };
    await hooks.onRoundStart?.(t, cohort);
    // Secure mode refuses a cohort it cannot call private, before anyone trains (privacyProblem).
    const exposed = this.secure && this.aggregation.rule !== 'grouped' && cohort.length >= 3 ? this.privacyProblem(cohort, this.cohortThreshold(cohort.length)) : undefined;
    if (exposed !== undefined) {
      metrics.status = 'aborted';
      metrics.abort = { stage: 'privacy', phase: '', needed: 2, got: 0, reason: `the cohort is not private: ${exposed}` };
      for (const id of cohort) this.sockets.get(id)?.emit('round:end', { round: t, status: 'aborted', reason: 'cohort not private' });
      return metrics;
    }

    // 1. Local training.
    const adversarial = localAdversarial(this.config);
    const sharedSet = this.shared !== undefined && traits.sharedSet !== 'none' ? { x: toWire(this.shared), labels: this.clean.labels } : undefined;
    const trainReplies = await timed('train', () =>
      this.broadcast<TrainReply & { weightsF32?: Float32Array }>('train', cohort, (id) => {
        const req: TrainRequest = {
          round: t,
          model: this.config.model,
          weights: toWire(this.weights),
          ...(sharedSet !== undefined ? { sharedSet } : {}),
          train: {
            epochs: this.config.localEpochs,
            batchSize: this.config.batchSize,
            lr: this.config.lr,
            momentum: this.config.momentum,
            seed: clientSeed(this.config.seed, t, id),
            sharedLossWeight: this.config.sharedLossWeight,
            ...(adversarial !== undefined ? { adversarial } : {}),
          },
          returnWeights: !this.secure,
        };
        return req;
      }, (v) => parseTrainReply(v, this.spec.numParams, !this.secure)),
    );
    const trained = cohort.filter((id) => trainReplies.get(id)?.ok === true);
    metrics.trained = trained.length;
    metrics.dropouts = cohort.length - trained.length;
    const losses = trained.map((id) => (trainReplies.get(id) as { ok: true; reply: TrainReply }).reply.loss);
    if (losses.length > 0) metrics.trainLoss = losses.reduce((a, b) => a + b, 0) / losses.length;

    try {
      if (this.secure) await this.secureRound(t, trained, metrics, timed);
      else await this.plaintextRound(trained, trainReplies as Map<string, { ok: true; reply: { weightsF32?: Float32Array; numExamples: number } }>, metrics, timed);
    } catch (err) {
      if (!(err instanceof SecAggAbortedError)) throw err;
      metrics.status = 'aborted';
      metrics.abort = { stage: err.stage, phase: err.phase, needed: err.needed, got: err.got, reason: err.message };
    }
    const endReason = metrics.abort === undefined ? undefined : metrics.abort.stage === 'range-check' ? 'sum out of range (a corrupt masked input)' : `${metrics.abort.stage} below threshold`;
    for (const id of cohort) this.sockets.get(id)?.emit('round:end', { round: t, status: metrics.status, ...(endReason !== undefined ? { reason: endReason } : {}) });
    if (metrics.status === 'completed' && (t % this.config.evalEvery === 0 || t === this.config.rounds)) {
      metrics.eval = await timed('eval', async () =>
        this.opts.evaluator !== undefined ? this.opts.evaluator(t, this.weights.slice())
          : this.opts.evaluateInWorker === true ? this.workerEvaluator().evaluate(t, this.weights.slice())
          : this.evaluate(t));
    }
    metrics.bytesSent = this.bytesSent - bytes0;
    return metrics;
  }

  private bvaShape(): { ns: number; classes: number; inputSize: number } {
    const tr = this.opts.data.train;
    return { ns: this.config.sharedSetSize, classes: tr.numClasses, inputSize: tr.height * tr.width * tr.channels };
  }

  private async secureRound(t: number, cohortTrained: string[], metrics: RoundMetrics, timed: <T>(n: string, f: () => Promise<T>) => Promise<T>): Promise<void> {
    const traits = methodTraits(this.config.method);
    let trained = cohortTrained;
    let n = trained.length;
    const steps = this.config.bva.attack === 'pgd' ? this.config.bva.steps : 1;
    const grouped = this.aggregation.rule === 'grouped';
    let planned: PlannedSum[] = grouped ? [] : [{ phase: MODEL_PHASE, spec: modelUpdateSpec(this.spec.numParams) }];
    const bva = traits.sharedSet === 'bva' && n >= 3;
    if (bva) planned.push(...plannedBvaSums(traits.bva!, this.config.bva.bias, steps, this.bvaShape(), n));
    if (n < 3) throw new SecAggAbortedError({ stage: 'setup', phase: '', attempt: 0, needed: 3, got: n });
    if (grouped) await timed('modelSum', () => this.groupedModelUpdate(t, trained, metrics));
    // With groups, the cohort-wide session carries only the BV phases (threats-and-evaluation.md §5).
    let session: SecureSumSession | undefined;
    if (planned.length > 0) {
      // The first session's threshold: a restart after complaints never lowers it.
      let t0: number | undefined;
      const agreed = await timed('keyAgreement', () =>
        this.agreeKeys(t, trained, metrics, (members, restart) => {
          if (restart > 0) planned = [...(grouped ? [] : [{ phase: MODEL_PHASE, spec: modelUpdateSpec(this.spec.numParams) }]), ...(bva ? plannedBvaSums(traits.bva!, this.config.bva.bias, steps, this.bvaShape(), members.length) : [])];
          let s: SecureSumSession;
          try {
            s = this.newSession(t, members, planned, t0);
          } catch (e) {
            // The first session's t does not fit the smaller cohort's graph: no restart keeps privacy.
            if (restart === 0 || !(e instanceof SecAggConfigError)) throw e;
            throw new SecAggAbortedError({ stage: 'setup', phase: '', attempt: restart, needed: t0 ?? 0, got: members.length }, `secure aggregation aborted: no restart keeps t = ${t0} for the ${members.length} clients left after the share-box complaints (${e.message})`);
          }
          t0 ??= s.threshold;
          // The privacy check again, on the clients that trained and the session's own threshold (dropouts in
          // training and clients left out after complaints shrink the cohort, and a Harary graph has its own t).
          const exposed = grouped ? undefined : this.privacyProblem(members, s.threshold);
          if (exposed !== undefined) throw new SecAggAbortedError({ stage: 'privacy', phase: '', attempt: restart, needed: 2, got: 0 }, `the ${restart === 0 ? '' : 'restarted '}cohort is not private: ${exposed}`);
          return s;
        }, 'the cohort'),
      );
      session = agreed.session;
      trained = agreed.members;
      n = trained.length;
    }
    if (!grouped) {
      const model = await timed('modelSum', () => session!.sum(MODEL_PHASE));
      metrics.survivors = model.survivors.length;
      const kept = new Set(model.survivors);
      metrics.secaggDropouts = trained.filter((id) => !kept.has(id));
      if (metrics.secaggDropouts.length > 0) this.log(`round ${t}: ${metrics.secaggDropouts.length} trained client(s) dropped during secure aggregation: ${metrics.secaggDropouts.join(', ')}`);
      // w_{t+1} = w_t + mean of the survivors' updates (uniform weighting, as the reference).
      this.weights = applyMeanUpdate(this.weights, model.sums[0]!, model.survivors.length);
    }
    await timed('sharedSet', () => this.nextSharedSet(t, bva && session !== undefined ? secureEnsemble(session, this.bvaShape(), n, (i) => (metrics.bvaSums ??= []).push(i)) : undefined, metrics));
  }

  private newSession(t: number, cohort: string[], plannedSums: PlannedSum[], threshold?: number): SecureSumSession {
    return new SecureSumSession(
      { runId: this.runId, round: t, cohort, identity: (id) => this.registry.identity(id), plannedSums, ...(this.opts.secagg ?? {}), expander: this.expander, ...(threshold !== undefined ? { threshold } : {}) },
      (stage, id, req) => this.sendStage(stage, id, req),
    );
  }

  /**
   * Key agreement with share-box complaints settled (secure-aggregation.md §6.1): `make(members, restart)` builds a
   * session, which is started; complaints, each judged by its proof, leave out the guilty, and the key agreement
   * starts again with fresh keys over the rest. Every restart leaves out at least one client, so this ends: with a
   * session that had no complaint, or an abort below t. The left-out clients go to `metrics.excluded`.
   */
  private async agreeKeys(t: number, members: string[], metrics: RoundMetrics, make: (members: string[], restart: number) => SecureSumSession, what: string): Promise<{ session: SecureSumSession; members: string[] }> {
    for (let restart = 0; ; restart++) {
      const session = make(members, restart);
      try {
        await session.start();
        return { session, members };
      } catch (err) {
        if (!(err instanceof SecAggDisputeError)) throw err;
        const out = new Set(err.excluded);
        (metrics.excluded ??= []).push(...err.excluded);
        this.log(`round ${t}: ${what}: ${err.message}`);
        members = members.filter((id) => !out.has(id));
      }
    }
  }

  /**
   * Grouped secure aggregation (threats-and-evaluation.md §5): a seeded split into g groups, one secure sum of
   * the updates per group (its own keys and threshold ⌊s/2⌋ + 1), then the rule `across` over the group means.
   * A group below its threshold is left out; fewer than `minGroups` surviving groups abort the round.
   */
  private async groupedModelUpdate(t: number, trained: string[], metrics: RoundMetrics): Promise<void> {
    const agg = this.aggregation;
    if (agg.rule !== 'grouped') throw new Error('groupedModelUpdate without a grouped rule');
    // Dropouts before the sum can leave too few clients for g groups of 3: form as many as the survivors allow.
    const minGroups = agg.minGroups ?? Math.ceil(agg.groups / 2);
    const g = Math.min(agg.groups, Math.floor(trained.length / 3));
    if (g < minGroups) throw new SecAggAbortedError({ stage: 'aggregate', phase: 'groups', attempt: 0, needed: minGroups, got: Math.max(g, 0) });
    const groups = splitGroups(this.config.seed, t, trained, g);
    const spec = modelUpdateSpec(this.spec.numParams);
    // A client belongs to one group, so the groups' sessions run side by side without sharing any client.
    const results = await Promise.all(groups.map(async (members) => {
      if (members.length < 3) return { size: members.length, survivors: 0 };
      // A group's sum reveals a member's update to whoever controls the group's other members: the privacy check of
      // the cohort (privacyProblem) holds per group. A group that fails it is left out before any key is exchanged.
      const exposed = this.privacyProblem(members, Math.floor(members.length / 2) + 1, 'group');
      if (exposed !== undefined) {
        this.log(`round ${t}: a group of ${members.length} is not private; left out: ${exposed}`);
        return { size: members.length, survivors: 0, refused: 'privacy' as const };
      }
      // The group's t stays that of its full size when complaints leave clients out (§6.1).
      const tg = Math.floor(members.length / 2) + 1;
      try {
        const { session } = await this.agreeKeys(t, members, metrics, (m, restart) => {
          if (restart > 0) {
            // Fewer than 3 would let one member read the other's update from the group sum.
            if (m.length < Math.max(3, tg)) throw new SecAggAbortedError({ stage: 'checkBoxes', phase: MODEL_PHASE, attempt: restart, needed: Math.max(3, tg), got: m.length });
            const exposed = this.privacyProblem(m, tg, 'group');
            if (exposed !== undefined) throw new SecAggAbortedError({ stage: 'privacy', phase: MODEL_PHASE, attempt: restart, needed: 2, got: 0 }, `the restarted group is not private: ${exposed}`);
          }
          return this.newSession(t, m, [{ phase: MODEL_PHASE, spec }], tg);
        }, `a group of ${members.length}`);
        const r = await session.sum(MODEL_PHASE);
        return { size: members.length, survivors: r.survivors.length, mean: applyMeanUpdate(new Float32Array(spec[0]!.length), r.sums[0]!, r.survivors.length) };
      } catch (err) {
        if (!(err instanceof SecAggAbortedError)) throw err;
        this.log(`round ${t}: a group of ${members.length} aborted at ${err.stage} (${err.got}/${err.needed}); left out`);
        return { size: members.length, survivors: 0 };
      }
    }));
    metrics.groups = results.map((r) => ({ size: r.size, survivors: r.survivors, ...('refused' in r ? { refused: r.refused } : {}) }));
    const means = results.flatMap((r) => ('mean' in r && r.mean !== undefined ? [r.mean] : []));
    if (means.length < minGroups) throw new SecAggAbortedError({ stage: 'aggregate', phase: 'groups', attempt: 0, needed: minGroups, got: means.length });
    metrics.survivors = results.reduce((a, r) => a + r.survivors, 0);
    const update = combineAcross(agg.across, means, agg.beta);
    const next = new Float32Array(this.weights.length);
    for (let i = 0; i < next.length; i++) next[i] = this.weights[i]! + update[i]!;
    this.weights = next;
  }

  private async plaintextRound(trained: string[], replies: Map<string, { ok: true; reply: { weightsF32?: Float32Array; numExamples: number } }>, metrics: RoundMetrics, timed: <T>(n: string, f: () => Promise<T>) => Promise<T>): Promise<void> {
    if (trained.length === 0) throw new SecAggAbortedError({ stage: 'train', phase: MODEL_PHASE, attempt: 0, needed: 1, got: 0 });
    const acc = new Float64Array(this.spec.numParams);
    // Uniform (the reference) or by the example counts the clients report (which a free rider can inflate).
    const byExamples = this.config.weighting === 'examples';
    const total = byExamples ? trained.reduce((a, id) => a + replies.get(id)!.reply.numExamples, 0) : trained.length;
    for (const id of trained) {
      const { weightsF32: w, numExamples } = replies.get(id)!.reply;
      const share = (byExamples ? numExamples : 1) / total;
      for (let i = 0; i < acc.length; i++) acc[i] += w![i]! * share;
    }
    metrics.survivors = trained.length;
    const models = methodTraits(this.config.method).sharedSet === 'bva' ? trained.map((id) => new Model(this.spec, replies.get(id)!.reply.weightsF32!)) : [];
    if (this.aggregation.rule === 'mean') this.weights = Float32Array.from(acc);
    else {
      // A robust rule sees each update Δ_k = w_k − w_t (threats-and-evaluation.md §4).
      const need = minUpdates(this.aggregation);
      if (trained.length < need) throw new SecAggAbortedError({ stage: 'aggregate', phase: this.aggregation.rule, attempt: 0, needed: need, got: trained.length });
      const updates = trained.map((id) => modelUpdate(replies.get(id)!.reply.weightsF32!, this.weights));
      const r = aggregatePlaintext(this.aggregation, updates);
      metrics.robust = { ...(r.selected !== undefined ? { selected: r.selected.map((i) => trained[i]!) } : {}), ...(r.clippedFraction !== undefined ? { clippedFraction: r.clippedFraction } : {}) };
      const next = new Float32Array(this.weights.length);
      for (let i = 0; i < next.length; i++) next[i] = this.weights[i]! + r.update[i]!;
      this.weights = next;
    }
    try {
      await timed('sharedSet', () => this.nextSharedSet(this.round + 1, models.length > 0 ? plaintextEnsemble(models, {}, { clientSeeds: trained.map((id) => clientSeed(this.config.seed, this.round + 1, id)) }) : undefined, metrics));
    } finally {
      for (const m of models) m.dispose();
    }
  }

  /** D̂_s^(t) by the method's rule; a BV abort falls back to the clean D_s (decent-bva.md §4.3). */
  private async nextSharedSet(t: number, ensemble: BvaEnsemble | undefined, metrics: RoundMetrics): Promise<void> {
    const traits = methodTraits(this.config.method);
    switch (traits.sharedSet) {
      case 'none':
        this.shared = undefined;
        return;
      case 'clean':
        this.shared = this.clean.x;
        return;
      case 'fgsm-global': {
        const model = new Model(this.spec, this.weights);
        const tr = this.opts.data.train;
        try {
          this.shared = fgsmGlobalSharedSet(model, this.clean, { height: tr.height, width: tr.width, channels: tr.channels, numClasses: tr.numClasses }, this.config, t);
        } finally {
          model.dispose();
        }
        return;
      }
      case 'bva': {
        if (ensemble === undefined) {
          this.shared = this.clean.x;
          metrics.bvaFallback = true;
          return;
        }
        try {
          this.shared = (await bvaSharedSet(ensemble, this.clean, this.config, t)).xAdv;
        } catch (err) {
          if (!(err instanceof SecAggAbortedError)) throw err;
          this.shared = this.clean.x;
          metrics.bvaFallback = true;
          this.log(`round ${t}: BV sum aborted at ${err.stage} (${err.got}/${err.needed}); the clean shared set is used`);
        }
        return;
      }
    }
  }

  private evaluate(t: number): Record<string, number> {
    return evaluateWeights(this.evaluationSetup(), t, this.weights);
  }

  /** The built-in evaluation's setup (also what `rfl coordinator` hands its evaluation worker). */
  evaluationSetup(): EvaluationSetup {
    return { spec: this.spec, test: this.opts.data.test, attacks: this.config.evalAttacks, eps: this.config.evalEps, seed: this.config.seed, ...(this.config.evalSubset !== undefined ? { subset: this.config.evalSubset } : {}) };
  }

  /** One secure-aggregation stage to one client, encoded and validated. */
  private async sendStage(stage: Stage, id: string, request: unknown): Promise<unknown> {
    const socket = this.sockets.get(id);
    if (socket === undefined) throw new ProtocolError('dropped', `${id} is not connected`);
    const req = request as Record<string, unknown>;
    const packed = pack(encodeSecAggRequest(stage, req));
    this.bytesSent += packed.blob.byteLength;
    const res = unpack(await ackOrDisconnect(socket, 'secagg', packed, this.timeouts[stage]), `${id} ${stage} reply`) as Ack<unknown>;
    if (res === null || typeof res !== 'object' || !('ok' in res)) throw new ProtocolError('bad-payload', `${id}: malformed acknowledgement`);
    if (!res.ok) throw new ProtocolError('bad-payload', `${id} refused ${stage}: ${res.error?.code}: ${res.error?.message}`);
    return parseSecAggReply(stage, res.reply, req['spec'] as VectorSpec | undefined);
  }

  /** `round:train` to each client; replies validated, failures recorded. */
  private async broadcast<R>(kind: 'train', targets: string[], build: (id: string) => TrainRequest, check: (v: unknown) => R): Promise<Map<string, { ok: true; reply: R } | { ok: false; reason: string }>> {
    const out = new Map<string, { ok: true; reply: R } | { ok: false; reason: string }>();
    await Promise.all(
      targets.map(async (id) => {
        const socket = this.sockets.get(id);
        if (socket === undefined) return out.set(id, { ok: false, reason: 'not connected' });
        try {
          const req = build(id);
          this.bytesSent += req.weights.byteLength + (req.sharedSet?.x.byteLength ?? 0);
          const res = unpack(await ackOrDisconnect(socket, 'round:train', pack(req), this.timeouts[kind]), `${id} round:train reply`) as Ack<unknown>;
          if (res === null || typeof res !== 'object' || !('ok' in res)) throw new ProtocolError('bad-payload', 'malformed acknowledgement');
          if (!res.ok) throw new ProtocolError('bad-payload', `refused: ${res.error?.code}: ${res.error?.message}`);
          return out.set(id, { ok: true, reply: check(res.reply) });
        } catch (err) {
          this.log(`round:train to ${id} failed: ${(err as Error).message}`);
          return out.set(id, { ok: false, reason: (err as Error).message });
        }
      }),
    );
    return out;
  }

  private closing: Promise<void> | undefined;
  private evalWorker: WorkerEvaluator | undefined;

  /** The evaluation worker, started at the first evaluation. */
  private workerEvaluator(): WorkerEvaluator {
    this.evalWorker ??= new WorkerEvaluator(this.evaluationSetup());
    return this.evalWorker;
  }

  /** Stops serving: disconnects clients and closes the server (idempotent). */
  close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w();
    this.closing ??= Promise.all([new Promise<void>((resolve) => this.io.close(() => resolve())), this.evalWorker?.close(), this.expander.close()]).then(() => undefined);
    return this.closing;
  }
}

/** Updates a plaintext rule needs to be defined (dropouts can leave fewer than the configured cohort). */
function minUpdates(a: AggregationConfig): number {
  switch (a.rule) {
    case 'krum':
      return 2 * a.f + 3;
    case 'multi-krum':
      return Math.max(2 * a.f + 3, a.k ?? 0);
    case 'trimmed-mean':
      return a.trim !== undefined ? 2 * a.trim + 1 : 1;
    default:
      return 1;
  }
}

/**
 * An acknowledged request that fails on timeout or as soon as the client disconnects. socket.io's own
 * `timeout().emitWithAck` would wait out the full stage timeout for an acknowledgement that can no longer come,
 * stalling the round, and its timer would keep the process alive after the coordinator closes; this one clears
 * its timer either way.
 */
function ackOrDisconnect(socket: ServerSocket, event: 'secagg' | 'round:train', packed: Packed, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    if (!socket.connected) {
      reject(new ProtocolError('dropped', `${socket.data.clientId} is not connected`));
      return;
    }
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('disconnect', onDisconnect);
    };
    const onDisconnect = (): void => {
      cleanup();
      reject(new ProtocolError('dropped', `${socket.data.clientId} disconnected`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new ProtocolError('timeout', `${socket.data.clientId} did not answer ${event} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('disconnect', onDisconnect);
    socket.emit(event, packed as never, ((res: unknown) => {
      cleanup();
      resolve(res);
    }) as never);
  });
}

/** Sends `event` with `payload` and resolves to the acknowledgement, or rejects on timeout or disconnect. */
function ackOrTimeout(socket: ServerSocket, event: 'auth:challenge', payload: { nonce: string }, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('disconnect', onDisconnect);
    };
    const onDisconnect = (): void => {
      cleanup();
      reject(new ProtocolError('dropped', `${socket.data.clientId} disconnected before proving its identity`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new ProtocolError('timeout', `${socket.data.clientId} did not prove its identity within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('disconnect', onDisconnect);
    socket.emit(event, payload, ((res: unknown) => {
      cleanup();
      resolve(res);
    }) as never);
  });
}

/** An event name fit for a log line: control characters shown as \\xNN, at most 64 characters. */
function printable(event: string): string {
  const shown = event.slice(0, 64).replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return event.length > 64 ? `${shown}…` : shown;
}

/** Dotted paths where two JSON values differ (leaves only; arrays compared whole). */
function differingFields(a: unknown, b: unknown, at = ''): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => differingFields(a[k], b[k], at === '' ? k : `${at}.${k}`));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [at === '' ? '(root)' : at];
}

/** The value at a dotted path of a JSON value. */
function fieldAt(v: unknown, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((o, k) => (typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[k] : undefined), v);
}
