/**
 * The simulation engine end to end (real coordinator, real client sessions over socket.io on port 0, a piscina
 * pool of one worker): pooled training equals in-process training bit for bit, a seeded scenario is repeatable,
 * the run directory is complete, tensor counts stay flat, and the fault behaviours (crash with disconnect and
 * rejoin, silent crash, straggler) act on the real protocol. No sleeps and no wall-clock timeouts: stragglers
 * use an injected sleep that never ends, and the coordinator's stage deadline for them and for silent crashes
 * is held until every other client has answered (helpers/held-deadlines.ts).
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../shared/compute/backend.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { partition, sampleSharedSet } from '../shared/data/partition.js';
import { initialWeights, modelSpec } from '../shared/models/model.js';
import { LocalTrainer } from '../client/trainer.js';
import { SimulationPool } from '../simulations/pool/pool.js';
import { PooledTrainer } from '../simulations/pooled-trainer.js';
import { resolveScenario } from '../simulations/scenario.js';
import { runSimulation, type SimRoundRecord, type SimulationResult } from '../simulations/engine.js';
import { vulkanMissing } from '../shared/compute/webgpu/backend.js';
import { STANDARD_ATTACKS } from '../shared/attacks/robust-accuracy.js';
import { HELD_MS, HeldDeadlines } from './helpers/held-deadlines.js';

const data = makeSyntheticDataset({ count: 360, testCount: 60, seed: 4 });
const tmp = (): string => path.join(mkdtempSync(path.join(os.tmpdir(), 'rfl-sim-')), 'run');
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
  workers: 1,
};

/** Runs a scenario; with `held`, the stage whose timeout is HELD_MS expires once its non-answering clients are all that is left. */
async function simulate(extra: Record<string, unknown>, held?: HeldDeadlines): Promise<{ result: SimulationResult; rounds: SimRoundRecord[] }> {
  const rounds: SimRoundRecord[] = [];
  const never = (): Promise<void> => new Promise<void>(() => undefined);
  const run = (): Promise<SimulationResult> =>
    runSimulation({
      scenario: resolveScenario({ ...base, ...extra }),
      runDir: tmp(),
      data,
      onRound: (r) => rounds.push(r),
      log: () => undefined,
      ...(held !== undefined ? { sleep: never, onWithhold: () => held.withhold(), deadlines: held } : {}),
    });
  const result = await run();
  return { result, rounds };
}

describe('simulation engine', function () {
  this.timeout(240000);
  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
  });

  it('a pooled training task gives the same weights as in-process training', async () => {
    const shared = sampleSharedSet(data.train.count, 8, 1);
    const parts = partition(data.train.labels, { kind: 'iid' }, 3, 1, shared);
    // The worker on the backend this thread uses (the automatic choice could be another: native).
    const pool = new SimulationPool({ train: data.train, test: data.test, parts, workers: 1, backend: 'wasm' });
    try {
      const spec = modelSpec('cnn-mnist');
      const weights = initialWeights(spec, 3);
      const task = { round: 1, model: 'cnn-mnist', weights, train: { epochs: 1, batchSize: 32, lr: 0.05, momentum: 0.9, seed: 77, sharedLossWeight: 1 } };
      const pooled = await new PooledTrainer(pool, 2).train(task);
      const local = new LocalTrainer(data.train, parts[2]!);
      const inProcess = await local.train(task);
      local.dispose();
      expect(pooled.numExamples).to.equal(parts[2]!.length);
      expect(Buffer.from(pooled.weights.buffer).equals(Buffer.from(inProcess.weights.buffer))).to.equal(true);
      expect(pooled.loss).to.equal(inProcess.loss);
    } finally {
      await pool.close();
    }
  });

  it('evaluations asked of a GPU that cannot start fall back to the CPU workers with the same figures', async function () {
    if (vulkanMissing() === undefined) this.skip(); // a machine with a GPU driver would really use it
    const parts = partition(data.train.labels, { kind: 'iid' }, 2, 1);
    const cpu = new SimulationPool({ train: data.train, test: data.test, parts, workers: 1 });
    const gpu = new SimulationPool({ train: data.train, test: data.test, parts, workers: 1, gpuEval: true });
    try {
      const spec = modelSpec('cnn-mnist');
      const weights = initialWeights(spec, 3);
      const attacks = [
        { name: 'clean', spec: STANDARD_ATTACKS['clean']! },
        { name: 'fgsm', spec: STANDARD_ATTACKS['fgsm']! },
      ];
      const viaGpu = await gpu.evaluate('cnn-mnist', weights, data.test.count, attacks, 5);
      expect(gpu.evalDevice).to.equal('cpu');
      expect(gpu.gpuFallbackReason).to.match(/Vulkan/);
      const viaCpu = await cpu.evaluate('cnn-mnist', weights, data.test.count, attacks, 5);
      expect(viaGpu.accuracy).to.deep.equal(viaCpu.accuracy);
    } finally {
      await Promise.all([cpu.close(), gpu.close()]);
    }
  });

  it('training asked of a GPU that cannot start falls back to the CPU workers with the same weights', async function () {
    if (vulkanMissing() === undefined) this.skip(); // a machine with a GPU driver would really use it
    const parts = partition(data.train.labels, { kind: 'iid' }, 3, 1);
    const cpu = new SimulationPool({ train: data.train, test: data.test, parts, workers: 1, backend: 'wasm' });
    const gpu = new SimulationPool({ train: data.train, test: data.test, parts, workers: 1, backend: 'wasm', trainDevice: 'gpu', lockstep: { windowMs: 0 } });
    try {
      expect(gpu.trainDevice).to.equal('gpu');
      const spec = modelSpec('cnn-mnist');
      const weights = initialWeights(spec, 3);
      const task = (client: number) => ({ client, model: 'cnn-mnist', weights, train: { epochs: 1, batchSize: 32, lr: 0.05, momentum: 0.9, seed: 70 + client, sharedLossWeight: 1 } });
      const viaGpu = await Promise.all([0, 1, 2].map((k) => gpu.train(task(k))));
      expect(gpu.trainDevice).to.equal('cpu');
      expect(gpu.gpuFallbackReason).to.match(/Vulkan/);
      expect(gpu.lockstep).to.deep.equal({ groups: 0, clients: 0 });
      const viaCpu = await Promise.all([0, 1, 2].map((k) => cpu.train(task(k))));
      viaGpu.forEach((r, k) => expect(Buffer.from(r.weights.buffer).equals(Buffer.from(viaCpu[k]!.weights.buffer)), `client ${k}`).to.equal(true));
    } finally {
      await Promise.all([cpu.close(), gpu.close()]);
    }
  });

  it('a run asked to train on a GPU it does not have trains on the CPU and says why, in its log and results', async function () {
    if (vulkanMissing() === undefined) this.skip(); // a machine with a GPU driver would really use it
    const lines: string[] = [];
    const runDir = tmp();
    const result = await runSimulation({
      scenario: resolveScenario({ ...base, method: 'fedavg', rounds: 1, evalEvery: 1 }),
      runDir,
      data,
      trainDevice: 'gpu',
      gpuEval: false,
      log: (l) => lines.push(l),
    });
    expect(result.trainDevice).to.equal('cpu');
    expect(result.lockstep).to.equal(undefined);
    expect(result.trainFallback).to.equal(`no GPU for training (${vulkanMissing()!})`);
    expect(lines.some((l) => l.startsWith('training on the CPU workers: no GPU for training'))).to.equal(true);
    const written = JSON.parse(readFileSync(path.join(runDir, 'results.json'), 'utf8')) as { trainDevice: string; trainFallback: string };
    expect(written.trainDevice).to.equal('cpu');
    expect(written.trainFallback).to.equal(result.trainFallback);
    // A scenario's own field says the same; an invalid RFL_TRAIN_DEVICE is an error, not ignored.
    const viaScenario = await runSimulation({
      scenario: resolveScenario({ ...base, method: 'fedavg', rounds: 1, evalEvery: 1, trainDevice: 'gpu' }),
      runDir: tmp(),
      data,
      gpuEval: false,
      log: () => undefined,
    });
    expect(viaScenario.trainFallback).to.equal(result.trainFallback);
    const saved = process.env['RFL_TRAIN_DEVICE'];
    process.env['RFL_TRAIN_DEVICE'] = 'tpu';
    try {
      const err = await runSimulation({ scenario: resolveScenario({ ...base, method: 'fedavg', rounds: 1 }), runDir: tmp(), data, gpuEval: false, log: () => undefined }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message).to.equal('RFL_TRAIN_DEVICE=tpu: expected auto, gpu or cpu');
    } finally {
      if (saved === undefined) delete process.env['RFL_TRAIN_DEVICE'];
      else process.env['RFL_TRAIN_DEVICE'] = saved;
    }
  });

  it('runs a seeded secure fed-bva scenario repeatably and writes the run directory', async () => {
    const a = await simulate({ method: 'fed-bva' });
    const b = await simulate({ method: 'fed-bva' });
    expect(a.rounds.map((r) => r.status)).to.deep.equal(['completed', 'completed']);
    expect(a.rounds.every((r) => r.survivors === 6 && r.trained === 6)).to.equal(true);
    expect(Buffer.from(a.result.weights!.buffer).equals(Buffer.from(b.result.weights!.buffer))).to.equal(true);
    expect(a.result.final).to.deep.equal(b.result.final);
    expect(Object.keys(a.result.final.accuracy).sort()).to.deep.equal(['clean', 'fgsm']);
    const dir = a.result.runDir;
    const lines = readFileSync(path.join(dir, 'rounds.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as SimRoundRecord);
    expect(lines.map((l) => l.round)).to.deep.equal([1, 2]);
    expect(lines[1]!.eval!['clean']).to.equal(a.result.final.accuracy['clean']);
    const results = JSON.parse(readFileSync(path.join(dir, 'results.json'), 'utf8')) as { final: unknown; timing: { roundMs: number } };
    expect(results.final).to.deep.equal(a.result.final);
    expect(results.timing.roundMs).to.be.greaterThan(0);
    expect((JSON.parse(readFileSync(path.join(dir, 'scenario.json'), 'utf8')) as { federated: { method: string } }).federated.method).to.equal('fed-bva');
    // Main-thread tensors are flat across rounds (the coordinator frees what each round allocates).
    expect(lines[0]!.mainTensors).to.equal(lines[1]!.mainTensors);
  });

  it('a client crashing with a disconnect at a BV sum leaves that sum and rejoins for the next round', async () => {
    const { rounds } = await simulate({ method: 'fed-bva', corrupted: { fraction: 0.2, behavior: { kind: 'crash', stage: 'collectMasked', sum: 'bva/0/p1', mode: 'disconnect', rounds: [1] } } });
    expect(rounds.map((r) => r.status)).to.deep.equal(['completed', 'completed']);
    // round(0.2·6) = 1 corrupted client: in the model sum, missing from the BV sum it crashed in, back in round 2.
    expect(rounds[0]!.corrupted).to.have.length(1);
    expect(rounds[0]!.survivors).to.equal(6);
    expect(rounds[1]!.cohort).to.equal(6);
    expect(rounds[1]!.trained).to.equal(6);
    expect(rounds[1]!.survivors).to.equal(6);
  });

  it('a silent crash at setup times out and the round completes without that client', async () => {
    const held = new HeldDeadlines();
    const { rounds } = await simulate(
      { method: 'fedavg', rounds: 1, evalEvery: 1, timeoutsMs: { setup: HELD_MS }, corrupted: { fraction: 0.2, behavior: { kind: 'crash', stage: 'setup', mode: 'silent' } } },
      held,
    );
    expect(held.expired).to.equal(1);
    expect(rounds[0]!.status).to.equal('completed');
    expect(rounds[0]!.trained).to.equal(6);
    expect(rounds[0]!.survivors).to.equal(5);
  });

  it('a straggler past the training timeout is left out of the round', async () => {
    const held = new HeldDeadlines();
    const { rounds } = await simulate(
      { method: 'fedavg', model: 'linear', rounds: 1, evalEvery: 1, timeoutsMs: { train: HELD_MS }, corrupted: { fraction: 0.34, behavior: { kind: 'straggler', delayMs: 60000 } } },
      held,
    );
    expect(held.expired).to.equal(2);
    expect(rounds[0]!.status).to.equal('completed');
    expect(rounds[0]!.corrupted).to.have.length(2);
    expect(rounds[0]!.trained).to.equal(4);
    expect(rounds[0]!.survivors).to.equal(4);
  });
});
