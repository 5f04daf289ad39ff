/**
 * Warm pool threads across simulations (simulations/pool/pool.ts): sequential simulations of one process take the
 * threads the previous one closed instead of starting fresh isolates, with results byte-identical to fresh-pool
 * runs; a pool whose task failed or whose worker exited is never reused; and a warm worker carries no tensor from
 * one simulation to the next. `RFL_POOL_REUSE=0` gives the fresh-pool references.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Piscina } from 'piscina';
import { initBackend } from '../shared/compute/backend.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import type { DatasetSplit } from '../shared/data/dataset.js';
import { partition } from '../shared/data/partition.js';
import { initialWeights, modelSpec } from '../shared/models/model.js';
import { destroyIdlePools, idlePools, idleWorkers, MAX_IDLE_POOLS, SimulationPool } from '../simulations/pool/pool.js';
import { resolveScenario } from '../simulations/scenario.js';
import { runSimulation } from '../simulations/engine.js';
import { jsonlSansTiming, resultsSansTiming } from './helpers/sans-timing.js';

const WORKERS = 2;
const dataA = makeSyntheticDataset({ count: 360, testCount: 60, seed: 4 });
const dataB = makeSyntheticDataset({ count: 300, testCount: 50, seed: 9 });
const base = {
  dataset: 'synthetic',
  numClients: 6,
  fraction: 1,
  rounds: 2,
  localEpochs: 1,
  batchSize: 32,
  lr: 0.05,
  sharedSetSize: 8,
  evalEvery: 2,
  evalAttacks: ['clean'],
  finalAttacks: ['clean', 'fgsm'],
  seed: 11,
  workers: WORKERS,
};
/** Two different simulations: another dataset, method, client count, seed and threat. */
const SIM_A = { data: dataA, scenario: { method: 'fedavg', secure: false } };
const SIM_B = { data: dataB, scenario: { method: 'fed-bva', numClients: 5, seed: 3, corrupted: { fraction: 0.2, behavior: { kind: 'sign-flip', s: 3 } } } };

interface Outcome {
  results: string;
  rounds: unknown[];
  weights: Buffer;
}

async function simulate(sim: { data: DatasetSplit; scenario: Record<string, unknown> }): Promise<Outcome> {
  const runDir = path.join(mkdtempSync(path.join(os.tmpdir(), 'rfl-pool-reuse-')), 'run');
  const result = await runSimulation({ scenario: resolveScenario({ ...base, ...sim.scenario }), runDir, data: sim.data, gpuEval: false, log: () => undefined });
  return {
    results: resultsSansTiming(readFileSync(path.join(runDir, 'results.json'), 'utf8'), runDir),
    rounds: jsonlSansTiming(readFileSync(path.join(runDir, 'rounds.jsonl'), 'utf8')),
    weights: Buffer.from(result.weights!.buffer),
  };
}

/** Runs `f` with RFL_POOL_REUSE set to `value` (unset for undefined), restoring it after. */
async function withReuse<T>(value: string | undefined, f: () => Promise<T>): Promise<T> {
  const before = process.env['RFL_POOL_REUSE'];
  if (value === undefined) delete process.env['RFL_POOL_REUSE'];
  else process.env['RFL_POOL_REUSE'] = value;
  try {
    return await f();
  } finally {
    if (before === undefined) delete process.env['RFL_POOL_REUSE'];
    else process.env['RFL_POOL_REUSE'] = before;
  }
}

/** A small training task for any pool over dataA (client 0, the linear model). */
const linear = modelSpec('linear', [dataA.train.height, dataA.train.width, dataA.train.channels], dataA.train.numClasses);
const TRAIN_TASK = {
  client: 0,
  model: 'linear',
  weights: initialWeights(linear, 1),
  train: { epochs: 1, batchSize: 32, lr: 0.05, momentum: 0.9, seed: 1, sharedLossWeight: 1 },
};

/** The threads of a pool (tests reach its piscina as a crash would). */
function threadsOf(pool: SimulationPool): { piscina: Piscina; broken: boolean } {
  return (pool as unknown as { threads: { piscina: Piscina; broken: boolean } }).threads;
}

/** A pool of the key runSimulation uses here (WORKERS threads, automatic backend, no GPU, no modules). */
function probePool(parts = 3): SimulationPool {
  return new SimulationPool({ train: dataA.train, test: dataA.test, parts: partition(dataA.train.labels, { kind: 'iid' }, parts, 1), workers: WORKERS });
}

describe('pool reuse across simulations', function () {
  this.timeout(240000);
  before(async () => {
    await initBackend({ quiet: true });
    await destroyIdlePools();
  });
  afterEach(async () => {
    await destroyIdlePools();
  });

  it('two different simulations back to back run on the same warm threads, with the results of fresh pools', async () => {
    const fresh = await withReuse('0', async () => {
      const a = await simulate(SIM_A);
      const b = await simulate(SIM_B);
      expect(idlePools(), 'RFL_POOL_REUSE=0 keeps nothing').to.deep.equal([]);
      return { a, b };
    });
    await withReuse(undefined, async () => {
      const a = await simulate(SIM_A);
      const afterA = idlePools();
      expect(afterA).to.have.length(1);
      expect(afterA[0]!.threadIds).to.have.length(WORKERS);
      expect(afterA[0]!.simulations).to.equal(1);
      const b = await simulate(SIM_B);
      const afterB = idlePools();
      expect(afterB).to.have.length(1);
      expect(afterB[0]!.threadIds, 'B ran on the threads A closed').to.deep.equal(afterA[0]!.threadIds);
      expect(afterB[0]!.simulations).to.equal(2);
      // And back to A's data on the threads that last held B's.
      const a2 = await simulate(SIM_A);
      expect(idlePools()[0]!.threadIds).to.deep.equal(afterA[0]!.threadIds);
      expect(idlePools()[0]!.simulations).to.equal(3);
      for (const [name, got, want] of [
        ['A', a, fresh.a],
        ['B', b, fresh.b],
        ['A again', a2, fresh.a],
      ] as const) {
        expect(got.results, `${name}: results.json`).to.equal(want.results);
        expect(got.rounds, `${name}: rounds.jsonl`).to.deep.equal(want.rounds);
        expect(got.weights.equals(want.weights), `${name}: final weights`).to.equal(true);
      }
    });
    // The warm workers answer with their thread ids: the pool's own list is theirs.
    const probe = probePool();
    try {
      expect(probe.reused).to.equal(true);
      const states = await probe.workerStates();
      expect(states.map((s) => s.threadId).sort()).to.deep.equal([...probe.threadIds].sort());
      expect(states.every((s) => s.simulations === 4)).to.equal(true);
    } finally {
      await probe.close();
    }
  });

  it('a pool whose task threw, or whose worker exited, is not reused', async () => {
    const spec = modelSpec('linear');
    const weights = initialWeights(spec, 1);
    const train = { epochs: 1, batchSize: 32, lr: 0.05, momentum: 0.9, seed: 1, sharedLossWeight: 1 };
    // Client 1 of this partition holds no rows: its training task throws in the worker.
    const parts = [Array.from({ length: 40 }, (_, i) => i), []];
    const failing = new SimulationPool({ train: dataA.train, test: dataA.test, parts, workers: WORKERS });
    const failedThreads = failing.threadIds;
    await failing.train({ client: 0, model: 'linear', weights, train });
    let error: Error | undefined;
    await failing.train({ client: 1, model: 'linear', weights, train }).catch((e: Error) => (error = e));
    expect(error?.message).to.match(/holds no examples/);
    await failing.close();
    expect(idlePools(), 'destroyed, not cached').to.deep.equal([]);

    const next = probePool();
    expect(next.reused).to.equal(false);
    expect(next.threadIds.some((t) => failedThreads.includes(t))).to.equal(false);
    await next.workerStates();
    // A worker of this one exits (as a crash would): piscina replaces it, and the pool is not reused either.
    const piscina = (next as unknown as { threads: { piscina: Piscina } }).threads.piscina;
    const gone = new Promise<void>((resolve) => piscina.once('workerDestroy', () => resolve()));
    await piscina.threads[0]!.terminate();
    await gone;
    await next.close();
    expect(idlePools()).to.deep.equal([]);

    // A healthy pool is: the control.
    const healthy = probePool();
    await healthy.workerStates();
    await healthy.close();
    expect(idlePools().map((p) => p.threadIds)).to.deep.equal([healthy.threadIds]);
  });

  it('keeps at most MAX_IDLE_POOLS idle pools, destroying the one idle longest', async () => {
    const parts = partition(dataA.train.labels, { kind: 'iid' }, 2, 1);
    const threads: number[][] = [];
    for (const backend of ['cpu', 'wasm', 'native']) {
      const pool = new SimulationPool({ train: dataA.train, test: dataA.test, parts, workers: 1, backend });
      threads.push(pool.threadIds);
      await pool.workerStates();
      await pool.close();
    }
    expect(MAX_IDLE_POOLS).to.equal(2);
    expect(idlePools().map((p) => p.threadIds)).to.have.deep.members(threads.slice(1));
  });

  it('no tensor growth in the warm workers across 5 sequential simulations', async () => {
    const sims = [SIM_A, SIM_B, { ...SIM_A, scenario: { ...SIM_A.scenario, seed: 5 } }, SIM_B, { ...SIM_B, scenario: { ...SIM_B.scenario, method: 'fedavg', secure: true } }];
    const perSim: Record<number, number>[] = [];
    let threads: number[] | undefined;
    let start: Record<number, number> = {};
    for (const sim of sims) {
      await simulate(sim);
      // A pool of the same key takes the simulation's warm threads; its probe makes each worker leave the
      // simulation (disposing its models) and report what is still alive.
      const probe = probePool();
      try {
        expect(probe.reused).to.equal(true);
        threads ??= probe.threadIds;
        expect(probe.threadIds).to.deep.equal(threads);
        const states = await probe.workerStates();
        expect(new Set(states.map((s) => s.threadId)).size, 'each worker probed once').to.equal(WORKERS);
        perSim.push(Object.fromEntries(states.map((s) => [s.threadId, s.idleTensors])));
        start = Object.fromEntries(states.map((s) => [s.threadId, s.startTensors]));
        // A training task in the probe's simulation: each worker then holds the linear model (its variables) on top
        // of its start-up tensors and cached constants, and a second task adds nothing (no tensor leaks per task).
        await Promise.all(Array.from({ length: WORKERS }, () => probe.train(TRAIN_TASK)));
        const trained = await probe.workerStates();
        await Promise.all(Array.from({ length: WORKERS }, () => probe.train(TRAIN_TASK)));
        const again = await probe.workerStates();
        for (const s of trained) {
          const held = s.numTensors - s.startTensors;
          expect(held, `thread ${s.threadId}: the trained model's ${linear.layout.length} variables beyond start-up`).to.be.within(linear.layout.length, linear.layout.length + 16);
          expect(again.find((a) => a.threadId === s.threadId)!.numTensors, `thread ${s.threadId}: after a second task`).to.equal(s.numTensors);
        }
      } finally {
        await probe.close();
      }
    }
    for (const [k, counts] of perSim.entries()) expect(counts, `after simulation ${k + 1}`).to.deep.equal(perSim[0]);
    for (const [t, n] of Object.entries(perSim[0]!)) expect(n - start[Number(t)]!, `thread ${t}: cached constants`).to.be.within(0, 16);
  });

  it('a worker exiting while its pool is idle: the pool is destroyed, and a broken idle pool is never taken', async () => {
    const a = probePool();
    await a.workerStates();
    await a.close();
    expect(idlePools()).to.have.length(1);
    const piscina = threadsOf(a).piscina;
    const gone = new Promise<void>((resolve) => piscina.once('workerDestroy', () => resolve()));
    await piscina.threads[0]!.terminate();
    await gone;
    expect(idlePools(), 'taken out of the cache').to.deep.equal([]);
    const b = probePool();
    expect(b.reused).to.equal(false);
    await b.workerStates();
    await b.close();
    // Marked broken some other way while idle (no exit seen): acquire passes it over.
    expect(idlePools()).to.have.length(1);
    threadsOf(b).broken = true;
    const c = probePool();
    try {
      expect(c.reused).to.equal(false);
      expect(c.threadIds.some((t) => b.threadIds.includes(t))).to.equal(false);
    } finally {
      await c.close();
    }
  });

  it('an error event while the pool is being destroyed is not thrown', async () => {
    await withReuse('0', async () => {
      const pool = probePool();
      await pool.workerStates();
      const closing = pool.close();
      // close() destroys the threads (reuse off); a late error from them has no one to tell.
      expect(() => threadsOf(pool).piscina.emit('error', new Error('late worker error'))).to.not.throw();
      await closing;
    });
  });

  it('idle workers keep nothing of the simulation that closed them (no models, no data views)', async () => {
    await simulate(SIM_A);
    const pools = await idleWorkers();
    expect(pools).to.have.length(1);
    expect(pools[0]!.map((w) => w.threadId).sort()).to.deep.equal([...idlePools()[0]!.threadIds].sort());
    for (const w of pools[0]!) {
      expect(w.sim, `thread ${w.threadId}: data views`).to.equal(undefined);
      expect(w.models, `thread ${w.threadId}: models`).to.equal(0);
      expect(w.numTensors - w.startTensors, `thread ${w.threadId}: cached constants only`).to.be.within(0, 16);
    }
  });
});
