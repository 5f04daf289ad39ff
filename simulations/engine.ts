/**
 * The simulation engine: a real coordinator (in-process on port 0, or an external URL), N virtual clients that
 * are real client sessions over socket.io (each with its own Ed25519 identity), and a piscina worker pool that
 * does their compute. Corrupted clients follow the scenario's behaviour (corruption-plan.ts). The run directory
 * receives the scenario, the coordinator's checkpoint and metrics, a per-round record (`rounds.jsonl`) and the
 * final results (`results.json`).
 *
 * A run stopped between rounds (a killed process, a device call's time limit) continues from its last completed
 * round with `resume` (`resumableRun` says whether a directory can): the coordinator resumes from its checkpoint,
 * and everything a round does derives from the scenario seed and the round (cohorts, training seeds, corrupted
 * clients, evaluation seeds), the virtual clients' identities included, so the resumed run ends with the results
 * of an uninterrupted one (tested bit for bit on the final weights).
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../shared/compute/backend.js';
import { loadDatasetAsync } from '../shared/data/index.js';
import { modelModuleOf } from '../shared/models/module-loader.js';
import { modelSpec, probeModel } from '../shared/models/model.js';
import { partition, sampleSharedSet } from '../shared/data/partition.js';
import type { DatasetSplit } from '../shared/data/dataset.js';
import { attackAt, COSTLY_KINDS } from '../shared/attacks/robust-accuracy.js';
import { prepareSurrogates } from '../shared/attacks/surrogates.js';
import { clientIdOf } from '../shared/federated/secure-model.js';
import { readCheckpoint } from '../server/run-store.js';
import { Rng } from '../shared/util/random.js';
import { Coordinator, type RoundMetrics } from '../server/coordinator.js';
import type { ClientSession } from '../client/session.js';
import { parseRoundEnd } from '../shared/protocol/schemas.js';
import type { RoundEnd } from '../shared/protocol/events.js';
import { messageOf } from '../shared/errors/catalogue.js';
import { SimulationPool, type PoolEvaluation, type SimulationPoolOptions } from './pool/pool.js';
import { checkLockstepModel } from '../shared/train/lockstep.js';
import { CorruptionPlan, type WithheldReply } from './corruption-plan.js';
import { HonestOracle } from './honest-oracle.js';
import { AdaptiveAdversary, dataPoisonOf, needsHonestUpdates, type AdaptiveRecord } from './behaviors/index.js';
import { vulkanMissing } from '../shared/compute/webgpu/backend.js';
import { prepareScenario, type Scenario } from './scenario.js';
import { scenarioToWire } from './scenario-wire.js';
import { connectVirtualClients, rejoin, virtualIdentity } from './virtual-clients.js';
import { HostHub } from './hosts/hub.js';
import { HOSTS_NAMESPACE } from './hosts/protocol.js';
import type { Deadlines } from '../shared/engine/clock.js';

/** Options of `runSimulation`. */
export interface SimulationOptions {
  scenario: Scenario;
  /** Directory for everything the run writes (created; must be empty or absent). */
  runDir: string;
  /** An external coordinator to join instead of starting one (then `token` is required). */
  url?: string;
  token?: string;
  /** Worker threads (default: the scenario's, else one per core). */
  workers?: number;
  /** Compute backend of the main thread and the workers. */
  backend?: BackendName;
  /** Already loaded data (default: load the scenario's dataset). */
  data?: DatasetSplit;
  /** Called at each round's phases and ends (a progress display hooks in here). */
  onPhase?: (round: number, phase: string) => void;
  onRound?: (r: SimRoundRecord) => void;
  /** Log sink (default: `simulation.log` in the run directory). */
  log?: (line: string) => void;
  /** Injected delay (tests): straggler sleeps. */
  sleep?: (ms: number) => Promise<void>;
  /** Told when a corrupted client holds back a reply (tests expire stage deadlines on it instead of on time). */
  onWithhold?: (at: WithheldReply) => void;
  /** The in-process coordinator's stage deadlines (CoordinatorOptions.deadlines; tests inject their own). */
  deadlines?: Deadlines;
  /** Evaluate on the GPU (a WebGPU worker); default: where a Vulkan loader and GPU driver are present. */
  gpuEval?: boolean;
  /**
   * Where the virtual clients train (default: the scenario's `trainDevice`, else `RFL_TRAIN_DEVICE`, else 'auto').
   * 'gpu': the tasks lockstep training covers (layer models; plain local SGD with the shared-set term: fedavg,
   * fedavg-ds, fed-bias, fed-variance, fed-bva) go to a WebGPU worker, where the clients of a round train together
   * (shared/train/lockstep.ts), and EAT's adversarial training as the default profile crafts it; other adversarial
   * training (PGD-AT, TRADES, the reference profile's EAT) and poisoned data stay on the CPU workers. 'auto': 'gpu' where a
   * Vulkan loader and GPU driver are present and the model is a layer model, else 'cpu'. Where 'gpu' cannot be
   * had, the run trains on the CPU and says why (`trainFallback`).
   */
  trainDevice?: TrainDeviceChoice;
  /** Lockstep grouping (SimulationPoolOptions.lockstep; tests inject the clock). */
  lockstep?: SimulationPoolOptions['lockstep'];
  /**
   * Continue the run in `runDir` from its last completed round (see `resumableRun`); the directory must hold the
   * same scenario. Without it, `runDir` must be empty or absent.
   */
  resume?: boolean;
  /**
   * Spread the virtual clients over this many client hosts (`rfl client-host`, simulations/hosts/), processes on
   * any machines that reach the coordinator, each with its own pool: host k runs clients k, k + n, k + 2n, …. This
   * process keeps the coordinator (and the evaluations) and runs no client. The rounds start once every host has
   * connected its clients. Not with `url`.
   */
  hosts?: number;
  /** Where the in-process coordinator listens (default 127.0.0.1, a free port); hosts on other machines need an address they reach. */
  listen?: { host?: string; port?: number };
  /** Told the coordinator's URL and the token clients and hosts present, once it listens (before any client connects). */
  onListening?: (at: { url: string; token: string }) => void;
}

/** Wall time of a run's earlier parts, kept beside its checkpoint so a resumed run reports its whole time. */
const PROGRESS_FILE = 'progress.json';

/**
 * Whether `runDir` holds a run stopped between rounds that `runSimulation({ resume: true })` can continue: a
 * checkpoint, the scenario, and one rounds.jsonl line per checkpointed round (a process killed in the instant
 * between the checkpoint and its record is started over instead).
 */
export function resumableRun(runDir: string): boolean {
  const file = path.join(runDir, 'checkpoint.bin');
  if (!existsSync(file) || !existsSync(path.join(runDir, 'scenario.json')) || existsSync(path.join(runDir, 'results.json'))) return false;
  try {
    const round = readCheckpoint(file).round;
    return readRecords(runDir).length === round;
  } catch {
    return false;
  }
}

function readRecords(runDir: string): SimRoundRecord[] {
  const file = path.join(runDir, 'rounds.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as SimRoundRecord);
}

/** One line of rounds.jsonl: the coordinator's metrics plus what the simulation knows. */
export interface SimRoundRecord {
  round: number;
  status: RoundMetrics['status'];
  abort?: RoundMetrics['abort'];
  cohort: number;
  corrupted: string[];
  trained: number;
  survivors?: number;
  trainLoss?: number;
  bvaFallback?: boolean;
  groups?: RoundMetrics['groups'];
  robust?: RoundMetrics['robust'];
  /** What an adaptive attack (mimic, opt-alie, opt-ipm) decided this round: the strength and forecast distance, or the client copied. */
  adversary?: AdaptiveRecord;
  /** Accuracy per attack (and `asr` for a backdoor) at evaluation rounds. */
  eval?: Record<string, number>;
  /** Wall milliseconds: the round without evaluation, and its split (see `splitRound`). */
  ms: { round: number; train: number; bva: number; secagg: number; other: number; eval: number; coordinator: Record<string, number> };
  bytesSent: number;
  /** Live tensors in the main thread after the round (must stay flat). */
  mainTensors: number;
}

/** What a simulation produced. */
export interface SimulationResult {
  scenario: string;
  /** The run directory, as given (not written to results.json, which lives in it). */
  runDir: string;
  rounds: number;
  completedRounds: number;
  clients: number;
  workers: number;
  /** Final evaluation: accuracy per attack on the evaluation set, and the backdoor success rate if any. */
  final: {
    accuracy: Record<string, number>;
    asr?: number;
    evaluated: number;
    /** Test images each final attack ran on (the AutoAttack family may run on fewer: `autoattackSubset`). */
    evaluatedBy?: Record<string, number>;
    /** Suites: accuracy per component (AutoAttack cumulative after each attack, transfer per surrogate). */
    components?: Record<string, Record<string, number>>;
  };
  /** Where the evaluations ran (a GPU worker, or the CPU workers), and why the GPU was given up if it was. */
  evalDevice: 'gpu' | 'cpu';
  gpuFallback?: string;
  /**
   * Where the clients' training ran: 'gpu' when the GPU worker trained client updates in lockstep (`lockstep`
   * counts them and their groups; ineligible tasks still trained on the CPU), else 'cpu'; `trainFallback` says why a
   * GPU asked for was not used or given up.
   */
  trainDevice: 'gpu' | 'cpu';
  lockstep?: { groups: number; clients: number };
  trainFallback?: string;
  /** Processes the run took when it was stopped and resumed (absent: one). `wallMs` sums their time. */
  parts?: number;
  /** Mean per-round split over the rounds (ms) and client updates per second. */
  timing: { roundMs: number; trainMs: number; bvaMs: number; secaggMs: number; otherMs: number; evalMs: number; clientUpdatesPerSec: number; connectMs: number };
  wallMs: number;
  /** Resident memory of the process (main thread and workers) at the end, and once every client was connected. */
  rssMb: number;
  connectedRssMb: number;
  /** An adaptive attack's decision in each round it acted (the `adversary` of rounds.jsonl, with its round). */
  adversary?: ({ round: number } & AdaptiveRecord)[];
  /** Final global weights (undefined when an external coordinator ran the rounds). */
  weights: Float32Array | undefined;
}

/**
 * Runs a scenario to the end and writes the run directory. The scenario's extension modules and model module
 * are loaded first (`prepareScenario`), here and in every worker.
 */
export async function runSimulation(opts: SimulationOptions): Promise<SimulationResult> {
  const t0 = performance.now();
  const scenario = await prepareScenario(opts.scenario);
  const cfg = scenario.federated;
  const scenarioText = JSON.stringify(scenario, null, 2) + '\n';
  const resuming = opts.resume === true;
  if (resuming) {
    if (!resumableRun(opts.runDir)) throw new Error(`run directory ${opts.runDir} holds no run stopped between rounds to resume (resumableRun)`);
    if (readFileSync(path.join(opts.runDir, 'scenario.json'), 'utf8') !== scenarioText) throw new Error(`run directory ${opts.runDir} holds another scenario; resume with the same one`);
  } else if (existsSync(opts.runDir) && readdirSync(opts.runDir).length > 0) throw new Error(`run directory ${opts.runDir} is not empty; choose another --out`);
  mkdirSync(opts.runDir, { recursive: true });
  const logFile = path.join(opts.runDir, 'simulation.log');
  const log = opts.log ?? ((line: string) => appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`));
  writeFileSync(path.join(opts.runDir, 'scenario.json'), scenarioText);
  const progressFile = path.join(opts.runDir, PROGRESS_FILE);
  const earlier = resuming && existsSync(progressFile) ? (JSON.parse(readFileSync(progressFile, 'utf8')) as { wallMs: number; parts: number }) : { wallMs: 0, parts: 0 };
  if (resuming) log(`resuming after round ${readRecords(opts.runDir).length} (part ${earlier.parts + 1} of this run)`);

  const compute = await initBackend({ quiet: true, ...(opts.backend !== undefined ? { backend: opts.backend } : {}) });
  const data = opts.data ?? (await loadDatasetAsync(scenario.dataset, scenario.dataDir !== undefined ? { dir: scenario.dataDir } : {}));
  // A user's model must fit the data: one clear error now, before any worker starts.
  probeModel(modelSpec(cfg.model, [data.train.height, data.train.width, data.train.channels], data.train.numClasses));
  // The coordinator draws D_s from the training set with the run seed; clients hold the rest, partitioned.
  const sharedIdx = sampleSharedSet(data.train.count, cfg.sharedSetSize, cfg.seed);
  const parts = partition(data.train.labels, cfg.partition, cfg.numClients, cfg.seed, sharedIdx);
  const ids = parts.map((_, k) => clientIdOf(k));
  const gpuEval = opts.gpuEval ?? vulkanMissing() === undefined;
  const spec = modelSpec(cfg.model, [data.train.height, data.train.width, data.train.channels], data.train.numClasses);
  const train = resolveTrainDevice(opts.trainDevice ?? scenario.trainDevice ?? trainDeviceFromEnv() ?? 'auto', () => checkLockstepModel(spec));
  if (train.device === 'gpu') log('training: the clients lockstep training covers train together on the GPU worker (webgpu); the others on the CPU workers');
  else if (train.why !== undefined) log(`training on the CPU workers: ${train.why}`);
  const modelModule = modelModuleOf(cfg.model);
  const pool = new SimulationPool({
    train: data.train,
    test: data.test,
    parts,
    gpuEval,
    trainDevice: train.device,
    ...(opts.lockstep !== undefined ? { lockstep: opts.lockstep } : {}),
    ...((opts.workers ?? scenario.workers) ? { workers: opts.workers ?? scenario.workers } : {}),
    ...(opts.backend !== undefined ? { backend: opts.backend } : {}),
    ...(scenario.extensions !== undefined ? { extensions: scenario.extensions } : {}),
    ...(modelModule !== undefined ? { modelModules: [modelModule] } : {}),
  });
  // Declared out here so the last `finally` closes whatever was opened when anything throws: a coordinator that
  // listens (its port, socket.io, evaluation and mask-expansion threads) and connected clients keep a process alive.
  let coordinator: Coordinator | undefined;
  let sessions = new Map<string, ClientSession>();
  const closeClients = (): void => {
    for (const s of sessions.values()) s.close();
    sessions = new Map();
  };
  try {
    const b = scenario.corrupted?.behavior;
    const hosts = opts.hosts;
    if (hosts !== undefined && (opts.url !== undefined || !Number.isInteger(hosts) || hosts < 1)) {
      await pool.close();
      throw new Error(opts.url !== undefined ? 'hosts: the clients of an external coordinator (url) cannot be spread over client hosts' : `hosts = ${hosts}: expected an integer ≥ 1`);
    }
    if (hosts !== undefined && b !== undefined && needsHonestUpdates(b)) {
      await pool.close();
      throw new Error(`hosts: ${b.kind} needs every honest update of a cohort, which no single client host sees; run it in one process (without hosts)`);
    }
    if (opts.url !== undefined && scenario.corrupted !== undefined && (scenario.corrupted.selection !== 'population' || (b !== undefined && needsHonestUpdates(b)))) {
      await pool.close();
      throw new Error('with an external coordinator the simulation cannot see the cohorts: use corrupted.selection: population and a behaviour that needs no honest updates');
    }
    const plan = new CorruptionPlan(scenario.corrupted, cfg.seed, ids, opts.sleep, opts.onWithhold);
    const oracle = b !== undefined && needsHonestUpdates(b) ? new HonestOracle() : undefined;
    // Colluding behaviours also see the aggregation rule in use (the scenario's, as the coordinator resolved it); the
    // adaptive attacks (Mimic, Opt-ALIE, Opt-IPM) keep their state across rounds there.
    const adaptive = oracle !== undefined ? new AdaptiveAdversary(scenario.aggregation, cfg.seed) : undefined;
    const evalCount = Math.min(cfg.evalSubset ?? data.test.count, data.test.count);
    // Backdoors, and model replacement built on a backdoored update, get their success rate measured.
    const poison = b !== undefined ? dataPoisonOf(b) : undefined;
    const backdoor = poison?.kind === 'backdoor' ? { trigger: poison.trigger, target: poison.target } : undefined;
    // Transfer attacks: their surrogates are trained (or loaded) here, once, before any worker needs them.
    const transferSpecs = [...new Set([...cfg.evalAttacks, ...cfg.finalAttacks])].map((n) => attackAt(n, cfg.evalEps)).flatMap((s) => (s.kind === 'transfer' ? [s] : []));
    try {
      prepareSurrogates(transferSpecs, data.test, evalCount, log);
    } catch (err) {
      await pool.close();
      throw err;
    }
    const attackCount = Math.min(cfg.autoattackSubset ?? evalCount, evalCount);
    const countOf = (name: string): number => (COSTLY_KINDS.has(attackAt(name, cfg.evalEps).kind) ? attackCount : evalCount);
    // Per suite attack, the components of its latest evaluation (in this process: a resumed run has those of its part).
    const components: Record<string, Record<string, number>> = {};
    const evaluate = async (weights: Float32Array, names: string[], seed: number): Promise<PoolEvaluation> => {
      const e = await pool.evaluate(
        cfg.model,
        weights,
        evalCount,
        names.map((name) => {
          const spec = attackAt(name, cfg.evalEps);
          return { name, spec, count: countOf(name) };
        }),
        seed,
        backdoor,
      );
      Object.assign(components, e.components ?? {});
      return e;
    };
    const evalSeed = (round: number): number => new Rng(cfg.seed).fork('eval').fork(round).nextUint32();
    const withAsr = (e: PoolEvaluation): Record<string, number> => ({ ...e.accuracy, ...(e.asr !== undefined ? { asr: e.asr } : {}) });

    const token = opts.token ?? randomBytes(16).toString('hex');
    // Every virtual client's identity, enrolled with the in-process coordinator: each counts as its own principal in
    // secure aggregation's privacy check, although all share the run's token.
    const identities = new Map(ids.map((id) => [id, virtualIdentity(cfg.seed, id)]));
    let url = opts.url;
    if (url === undefined) {
      coordinator = new Coordinator({
        federated: cfg,
        data,
        secure: scenario.secure,
        aggregation: scenario.aggregation,
        secagg: scenario.secagg,
        tokens: new Set([token]),
        enrolment: new Map([...identities].map(([id, kp]) => [id, kp.publicKey])),
        runDir: opts.runDir,
        resume: resuming,
        timeoutsMs: scenario.timeoutsMs,
        ...(opts.deadlines !== undefined ? { deadlines: opts.deadlines } : {}),
        // Every virtual client connects before run(); clients that leave for good must not stall later rounds.
        minClients: 1,
        log: (l) => log(`coordinator: ${l}`),
        evaluator: async (round, weights) => withAsr(await evaluate(weights, cfg.evalAttacks, evalSeed(round))),
      });
      const listenHost = opts.listen?.host ?? '127.0.0.1';
      const port = await coordinator.listen(opts.listen?.port ?? 0, listenHost);
      // An address others can use: a wildcard listen is reached at this machine's name.
      const shownHost = listenHost === '0.0.0.0' || listenHost === '::' ? os.hostname() : listenHost.includes(':') ? `[${listenHost}]` : listenHost;
      url = `http://${shownHost}:${port}`;
      opts.onListening?.({ url, token });
    }
    const hub =
      hosts !== undefined && coordinator !== undefined
        ? new HostHub({
            namespace: coordinator.namespace(HOSTS_NAMESPACE),
            token,
            count: hosts,
            scenario: scenarioToWire(scenario),
            clientToken: token,
            numClients: ids.length,
            log: (l) => log(`hosts: ${l}`),
          })
        : undefined;

    // Virtual clients: the real client session; only the trainer (and, if corrupted, its behaviour) differ.
    const tc = performance.now();
    if (hub !== undefined) {
      log(`waiting for ${hosts} client host${hosts === 1 ? '' : 's'} (rfl client-host --url ${url} --token …)`);
      await hub.ready();
    } else
      sessions = await connectVirtualClients({
        url,
        token,
        seed: cfg.seed,
        clients: ids.map((id, index) => ({ id, index })),
        pool,
        plan,
        ...(oracle !== undefined ? { oracle } : {}),
        ...(adaptive !== undefined ? { adaptive } : {}),
        log,
      });
    const connectMs = performance.now() - tc;
    const connectedRssMb = process.memoryUsage().rss / 2 ** 20;
    log(`${ids.length} virtual clients connected${hub !== undefined ? ` on ${hosts} client hosts` : ''} in ${connectMs.toFixed(0)} ms`);

    const records: SimRoundRecord[] = resuming ? readRecords(opts.runDir) : [];
    let roundStart = 0;
    let clock0 = { train: 0, bva: 0 };
    let corruptedNow: string[] = [];
    const recordsFile = path.join(opts.runDir, 'rounds.jsonl');
    let finalWeights: Float32Array | undefined;
    try {
      if (coordinator === undefined) {
        // An external coordinator runs the rounds; the virtual clients answer until it announces the end.
        await new Promise<void>((resolve) => {
          let left = sessions.size;
          for (const s of sessions.values()) {
            s.socket.once('run:end', () => resolve());
            s.socket.on('round:end', (msg: unknown) => {
              if (s !== sessions.values().next().value) return;
              // The coordinator is another process: its notice is checked as the client session checks it.
              let end: RoundEnd;
              try {
                end = parseRoundEnd(msg);
              } catch (err) {
                log(`round:end ignored: ${messageOf(err)}`);
                return;
              }
              opts.onRound?.({
                round: end.round,
                status: end.status,
                cohort: 0,
                corrupted: [],
                trained: 0,
                ms: { round: 0, train: 0, bva: 0, secagg: 0, other: 0, eval: 0, coordinator: {} },
                bytesSent: 0,
                mainTensors: tf.memory().numTensors,
              });
            });
            s.socket.on('disconnect', (reason) => {
              if (reason !== 'io client disconnect' && --left === 0) resolve();
            });
          }
        });
      } else
        await coordinator.run({
          onRoundStart: async (round, cohort) => {
            roundStart = performance.now();
            const { corrupted, honest } = plan.startRound(round, cohort);
            corruptedNow = [...corrupted].sort();
            oracle?.expect(round, honest);
            // The hosts learn the cohort before any request goes out (the engine awaits this), so their plans match.
            clock0 = hub !== undefined ? await hub.roundStart(round, cohort) : { train: pool.clocks.train.busyMs(), bva: pool.clocks.bva.busyMs() };
          },
          onPhase: (round, phase) => opts.onPhase?.(round, phase),
          onRound: async (m) => {
            const evalMs = m.ms['eval'] ?? 0;
            const roundMs = performance.now() - roundStart - evalMs;
            // With client hosts, their pools did the clients' compute (and they rejoin their departed clients now).
            const busy = hub !== undefined ? await hub.roundEnd(m.round) : { train: pool.clocks.train.busyMs(), bva: pool.clocks.bva.busyMs() };
            const train = busy.train - clock0.train;
            const bva = busy.bva - clock0.bva;
            // Secure aggregation: key agreement, the sums and the server's share of Decent_BVA, minus the time the
            // clients spent computing their BV statistics inside those sums.
            const secagg = Math.max(0, (m.ms['keyAgreement'] ?? 0) + (m.ms['modelSum'] ?? 0) + (m.ms['sharedSet'] ?? 0) - bva);
            const rec: SimRoundRecord = {
              round: m.round,
              status: m.status,
              ...(m.abort !== undefined ? { abort: m.abort } : {}),
              cohort: m.cohort.length,
              corrupted: corruptedNow,
              trained: m.trained,
              ...(m.survivors !== undefined ? { survivors: m.survivors } : {}),
              ...(m.trainLoss !== undefined ? { trainLoss: m.trainLoss } : {}),
              ...(m.bvaFallback !== undefined ? { bvaFallback: m.bvaFallback } : {}),
              ...(m.groups !== undefined ? { groups: m.groups } : {}),
              ...(m.robust !== undefined ? { robust: m.robust } : {}),
              ...(adaptive?.record(m.round) !== undefined ? { adversary: adaptive.record(m.round)! } : {}),
              ...(m.eval !== undefined ? { eval: m.eval } : {}),
              ms: { round: roundMs, train, bva, secagg, other: Math.max(0, roundMs - train - bva - secagg), eval: evalMs, coordinator: m.ms },
              bytesSent: m.bytesSent,
              mainTensors: tf.memory().numTensors,
            };
            records.push(rec);
            appendFileSync(recordsFile, JSON.stringify(rec) + '\n');
            writeFileSync(progressFile, JSON.stringify({ wallMs: earlier.wallMs + performance.now() - t0, parts: earlier.parts + 1 }) + '\n');
            plan.endRound(m.round);
            oracle?.endRound(m.round);
            adaptive?.endRound(m.round);
            opts.onRound?.(rec);
            // Clients that left on purpose (crash with rejoin) come back before the next cohort is drawn.
            await Promise.all([...plan.rejoining].map((id) => rejoin(sessions.get(id)!)));
            plan.rejoining.clear();
          },
        });
      finalWeights = coordinator?.globalWeights();
      hub?.end();
    } finally {
      closeClients();
      await coordinator?.close();
    }

    // Final evaluation: the final attacks not already measured at the last round (an external coordinator
    // evaluates its own model; the simulation never sees it).
    const last = records[records.length - 1]?.eval ?? {};
    const missing = cfg.finalAttacks.filter((a) => !(a in last));
    const extra =
      finalWeights !== undefined && (missing.length > 0 || (backdoor !== undefined && last['asr'] === undefined)) ? withAsr(await evaluate(finalWeights, missing, evalSeed(cfg.rounds + 1))) : {};
    const finalEval = { ...last, ...extra };
    const evalDevice = pool.evalDevice;
    const gpuFallback = pool.gpuFallbackReason;
    if (gpuFallback !== undefined) log(`GPU worker failed (${gpuFallback}); evaluated${train.device === 'gpu' ? ' and trained' : ''} on the CPU workers from then on`);
    const lockstep = { ...pool.lockstep };
    if (train.device === 'gpu') log(`the GPU worker trained ${lockstep.clients} client updates in ${lockstep.groups} lockstep groups`);
    const trainFallback = train.why ?? (train.device === 'gpu' && pool.trainDevice === 'cpu' ? gpuFallback : undefined);
    await pool.close();
    const { asr, ...accuracy } = finalEval;
    const mean = (f: (r: SimRoundRecord) => number): number => (records.length === 0 ? 0 : records.reduce((a, r) => a + f(r), 0) / records.length);
    const totalRoundMs = records.reduce((a, r) => a + r.ms.round, 0);
    const adversary = records.flatMap((r) => (r.adversary !== undefined ? [{ round: r.round, ...r.adversary }] : []));
    const result: SimulationResult = {
      scenario: scenario.name,
      runDir: opts.runDir,
      rounds: cfg.rounds,
      completedRounds: records.filter((r) => r.status === 'completed').length,
      clients: ids.length,
      workers: pool.workers,
      final: {
        accuracy,
        ...(asr !== undefined ? { asr } : {}),
        evaluated: evalCount,
        evaluatedBy: Object.fromEntries(Object.keys(accuracy).map((a) => [a, countOf(a)])),
        ...(Object.keys(accuracy).some((a) => components[a] !== undefined)
          ? { components: Object.fromEntries(Object.keys(accuracy).flatMap((a) => (components[a] !== undefined ? [[a, components[a]]] : []))) }
          : {}),
      },
      evalDevice,
      ...(gpuFallback !== undefined ? { gpuFallback } : {}),
      trainDevice: lockstep.clients > 0 ? 'gpu' : 'cpu',
      ...(lockstep.clients > 0 ? { lockstep } : {}),
      ...(trainFallback !== undefined ? { trainFallback } : {}),
      timing: {
        roundMs: mean((r) => r.ms.round),
        trainMs: mean((r) => r.ms.train),
        bvaMs: mean((r) => r.ms.bva),
        secaggMs: mean((r) => r.ms.secagg),
        otherMs: mean((r) => r.ms.other),
        evalMs: mean((r) => r.ms.eval),
        clientUpdatesPerSec: totalRoundMs > 0 ? records.reduce((a, r) => a + r.trained, 0) / (totalRoundMs / 1000) : 0,
        connectMs,
      },
      wallMs: earlier.wallMs + performance.now() - t0,
      ...(earlier.parts > 0 ? { parts: earlier.parts + 1 } : {}),
      ...(adversary.length > 0 ? { adversary } : {}),
      rssMb: process.memoryUsage().rss / 2 ** 20,
      connectedRssMb,
      weights: finalWeights,
    };
    // results.json leaves out the run directory: the file lives in it, and a recorded path would name wherever
    // the run happened to be (a scratch folder of a queue worker, another machine's absolute path).
    const { weights: _w, runDir: _dir, ...summary } = result;
    // The attacks' parameters travel with the numbers, so a report never depends on the code that reads it.
    const attacks = Object.fromEntries([...new Set([...cfg.evalAttacks, ...cfg.finalAttacks])].map((n) => [n, attackAt(n, cfg.evalEps)]));
    writeFileSync(
      path.join(opts.runDir, 'results.json'),
      JSON.stringify(
        {
          ...summary,
          attacks,
          machine: {
            cpu: os.cpus()[0]?.model ?? 'unknown',
            cores: os.cpus().length,
            node: process.version,
            tfjs: tf.version.tfjs,
            // Seeded figures are exact per backend (and, for native, per instruction set: FMA rounds differently).
            backend: compute.name,
            ...(compute.adapter !== undefined ? { backendDetail: compute.adapter } : {}),
          },
          date: new Date().toISOString(),
        },
        null,
        2,
      ) + '\n',
    );
    return result;
  } finally {
    // Idempotent: the paths above close them themselves; this covers a throw anywhere in between (a port in use,
    // a refused client, a failed round), so a failed simulation leaves no port, socket or thread behind.
    closeClients();
    try {
      await coordinator?.close();
    } finally {
      await pool.close();
    }
  }
}

/** Where clients train: a device, or 'auto' (see `SimulationOptions.trainDevice`). */
export type TrainDeviceChoice = 'auto' | 'gpu' | 'cpu';

/** `RFL_TRAIN_DEVICE`, when set (an invalid value is an error, not ignored). */
function trainDeviceFromEnv(): TrainDeviceChoice | undefined {
  const v = process.env['RFL_TRAIN_DEVICE'];
  if (v === undefined || v === '') return undefined;
  if (v !== 'auto' && v !== 'gpu' && v !== 'cpu') throw new Error(`RFL_TRAIN_DEVICE=${v}: expected auto, gpu or cpu`);
  return v;
}

/**
 * The device the clients train on, and why not the GPU where it was asked for (explicitly: 'gpu') or would have
 * been chosen ('auto' says nothing when there is simply no GPU). `checkModel` throws where lockstep training
 * cannot run the model.
 */
export function resolveTrainDevice(choice: TrainDeviceChoice, checkModel: () => void): { device: 'gpu' | 'cpu'; why?: string } {
  if (choice === 'cpu') return { device: 'cpu' };
  const missing = vulkanMissing();
  if (missing !== undefined) return choice === 'gpu' ? { device: 'cpu', why: `no GPU for training (${missing})` } : { device: 'cpu' };
  try {
    checkModel();
  } catch (err) {
    return { device: 'cpu', why: (err as Error).message };
  }
  return { device: 'gpu' };
}
