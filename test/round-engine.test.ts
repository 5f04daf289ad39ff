/**
 * The round engine over the in-memory transport with an injected clock: every number here, timings included, is
 * decided by the clients' answers and the seed, never by how long anything took. The secure mean runs over the
 * same transport with the real client stage machines.
 */
import { expect } from 'chai';
import { RoundEngine, type RoundEngineOptions } from '../shared/engine/round-engine.js';
import { InMemoryTransport, NO_REPLY, type InMemoryClient } from '../shared/engine/in-memory-transport.js';
import { PlaintextMean } from '../shared/engine/plaintext-mean.js';
import { CleanSharedSetDefense, NoSharedSet } from '../shared/engine/shared-set-defenses.js';
import type { Clock } from '../shared/engine/clock.js';
import type { RoundMetrics } from '../shared/engine/round-metrics.js';
import type { Strategy } from '../shared/engine/strategy.js';
import { resolveConfig, type FederatedConfig } from '../shared/federated/config.js';
import { modelSpec } from '../shared/models/model.js';
import type { RoundEnd } from '../shared/protocol/events.js';
import { toWire } from '../shared/protocol/wire.js';
import type { Stage } from '../shared/secagg/messages.js';
import { identityKeyPair } from '../shared/secagg/keys.js';
import { MaskExpander } from '../server/mask-expansion.js';
import { SecureSessions } from '../server/engine/secure-sessions.js';
import { SecureMean } from '../server/engine/secure-mean.js';
import { secureInMemoryClient } from './helpers/secure-in-memory-client.js';

const spec = modelSpec('linear', [2, 2, 1], 2);
const D = spec.numParams;

/** A clock that moves 10 ms at every reading. */
function steppingClock(): Clock {
  let t = 0;
  return { now: () => (t += 10) };
}

/** A client whose trained weights are w + delta (loss = delta), recording the rounds it saw. */
function client(delta: number, log: { trained: number[]; shared: boolean[]; ends: RoundEnd[] } = { trained: [], shared: [], ends: [] }): InMemoryClient {
  return {
    async train(req) {
      log.trained.push(req.round);
      log.shared.push(req.sharedF32 !== undefined);
      return { numExamples: 10, loss: delta, ...(req.returnWeights ? { weights: toWire(req.weightsF32.map((v) => v + delta)) } : {}) };
    },
    roundEnd: (end) => log.ends.push(end),
  };
}

function engine(config: FederatedConfig, transport: InMemoryTransport, overrides: Partial<RoundEngineOptions> = {}): RoundEngine {
  return new RoundEngine({
    config,
    strategy: new NoSharedSet(new PlaintextMean(config, spec)),
    transport,
    clock: steppingClock(),
    sharedLabels: new Uint8Array([0, 1]),
    start: { round: 0, weights: new Float32Array(D), shared: undefined },
    evaluate: async (t, w) => ({ clean: t + w[0]! }),
    ...overrides,
  });
}

const base = { numClients: 4, fraction: 1, rounds: 3, evalEvery: 2, sharedSetSize: 2, seed: 9, method: 'fedavg' };

describe('round engine (in-memory transport, injected clock)', () => {
  it('runs a plaintext round: the mean of the uploads, the loss, the timings and the bytes, all exact', async () => {
    const config = resolveConfig(base);
    const transport = new InMemoryTransport([0, 1, 2, 3].map((k) => [`c${k}`, client(k + 1)] as const));
    const e = engine(config, transport);
    const { metrics, notes } = await e.runRound(1);
    expect(metrics.status).to.equal('completed');
    expect(metrics.cohort).to.deep.equal(['c0', 'c1', 'c2', 'c3']);
    expect([metrics.trained, metrics.dropouts, metrics.survivors]).to.deep.equal([4, 0, 4]);
    expect(metrics.trainLoss).to.equal(2.5);
    expect(Array.from(e.weights)).to.deep.equal(new Array(D).fill(2.5));
    // Each timed step reads the clock twice, 10 ms apart: train, then sharedSet.
    expect(metrics.ms).to.deep.equal({ train: 10, sharedSet: 10 });
    expect(metrics.bytesSent).to.equal(4 * 4 * D);
    expect(metrics.eval).to.equal(undefined);
    expect(notes).to.deep.equal({ sharedSetUsed: false, bvaSums: 0 });
  });

  it('counts failing and silent clients as dropouts; with none trained the round aborts and the model stands', async () => {
    const config = resolveConfig(base);
    const logs = [0, 1, 2, 3].map(() => ({ trained: [] as number[], shared: [] as boolean[], ends: [] as RoundEnd[] }));
    const transport = new InMemoryTransport([
      ['c0', client(1, logs[0])],
      ['c1', { ...client(3, logs[1]) }],
      ['c2', { train: async () => NO_REPLY, roundEnd: (end) => logs[2]!.ends.push(end) }],
      ['c3', { train: async () => Promise.reject(new Error('out of memory')), roundEnd: (end) => logs[3]!.ends.push(end) }],
    ]);
    const e = engine(config, transport);
    const r1 = await e.runRound(1);
    expect([r1.metrics.status, r1.metrics.trained, r1.metrics.dropouts]).to.deep.equal(['completed', 2, 2]);
    expect(Array.from(e.weights)).to.deep.equal(new Array(D).fill(2));
    expect(logs.map((l) => l.ends)).to.deep.equal(logs.map(() => [{ round: 1, status: 'completed' }]));

    transport.remove('c0');
    transport.remove('c1');
    transport.add('c4', { train: async () => NO_REPLY });
    const w = e.weights.slice();
    const r2 = await e.runRound(2);
    expect(r2.metrics.status).to.equal('aborted');
    expect(r2.metrics.abort).to.deep.include({ stage: 'train', needed: 1, got: 0 });
    expect(r2.metrics.trainLoss).to.equal(undefined);
    expect(Array.from(e.weights)).to.deep.equal(Array.from(w));
    expect(logs[2]!.ends[1]).to.deep.equal({ round: 2, status: 'aborted', reason: 'train below threshold' });
    // No evaluation of an aborted round, even at an evaluation round.
    expect(r2.metrics.eval).to.equal(undefined);
  });

  it('a refused cohort is aborted before anyone trains, and the cohort is told why', async () => {
    const config = resolveConfig(base);
    const log = { trained: [] as number[], shared: [] as boolean[], ends: [] as RoundEnd[] };
    const transport = new InMemoryTransport([0, 1, 2].map((k) => [`c${k}`, client(1, log)] as const));
    const refusing: Strategy = {
      configureRound: () => ({
        returnWeights: false,
        sendSharedSet: false,
        refusal: { abort: { stage: 'privacy', phase: '', needed: 2, got: 0, reason: 'not private' }, clientReason: 'cohort not private' },
      }),
      aggregateRound: () => Promise.reject(new Error('never called')),
    };
    const { metrics } = await engine(resolveConfig({ ...base, numClients: 3 }), transport, { strategy: refusing }).runRound(1);
    expect(metrics).to.deep.equal({
      round: 1,
      status: 'aborted',
      cohort: ['c0', 'c1', 'c2'],
      trained: 0,
      dropouts: 0,
      ms: {},
      bytesSent: 0,
      abort: { stage: 'privacy', phase: '', needed: 2, got: 0, reason: 'not private' },
    });
    expect(log.trained).to.deep.equal([]);
    expect(log.ends).to.deep.equal([0, 1, 2].map(() => ({ round: 1, status: 'aborted', reason: 'cohort not private' })));
    expect(config.rounds).to.equal(3);
  });

  it('run: evaluates every evalEvery rounds and after the last, persists every round, and sends D̂_s from round 2', async () => {
    const config = resolveConfig({ ...base, method: 'fedavg-ds' });
    const log = { trained: [] as number[], shared: [] as boolean[], ends: [] as RoundEnd[] };
    const transport = new InMemoryTransport([0, 1, 2, 3].map((k) => [`c${k}`, client(1, k === 0 ? log : undefined)] as const));
    const clean = { x: new Float32Array(2 * 4).fill(0.5), labels: new Uint8Array([0, 1]) };
    const persisted: number[] = [];
    const seen: RoundMetrics[] = [];
    const e = engine(config, transport, {
      strategy: new CleanSharedSetDefense(new PlaintextMean(config, spec), clean),
      persist: (s, m) => persisted.push(s.round * 100 + m.round),
    });
    await e.run({ onRound: (m) => void seen.push(m) });
    expect(e.completedRounds).to.equal(3);
    expect(persisted).to.deep.equal([101, 202, 303]);
    expect(seen.map((m) => m.eval)).to.deep.equal([undefined, { clean: 2 + 2 }, { clean: 3 + 3 }]);
    expect(log.shared).to.deep.equal([false, true, true]);
    expect(e.shared).to.equal(clean.x);
  });

  it('stop() ends run before the next round, and a round in progress is not persisted', async () => {
    const config = resolveConfig(base);
    const transport = new InMemoryTransport([0, 1, 2, 3].map((k) => [`c${k}`, client(1)] as const));
    const persisted: number[] = [];
    const e = engine(config, transport, { persist: (s) => persisted.push(s.round) });
    await e.run({ onRoundStart: (t) => (t === 2 ? e.stop() : undefined) });
    expect(persisted).to.deep.equal([1]);
    expect(e.completedRounds).to.equal(1);
  });

  it('draws the seeded cohort from the connected clients, the same for the same seed', async () => {
    const config = resolveConfig({ ...base, numClients: 8, fraction: 0.5 });
    const cohorts = async (): Promise<string[][]> => {
      const transport = new InMemoryTransport(Array.from({ length: 8 }, (_, k) => [`c${k}`, client(1)] as const));
      const e = engine(config, transport);
      return [(await e.runRound(1)).metrics.cohort, (await e.runRound(2)).metrics.cohort];
    };
    const [a, b] = [await cohorts(), await cohorts()];
    expect(a).to.deep.equal(b);
    expect(a[0]).to.have.length(4);
    expect(a[0]).to.not.deep.equal(a[1]);
  });
});

describe('round engine: the secure mean over the in-memory transport', () => {
  const ids = ['c0', 'c1', 'c2', 'c3'];
  const keys = new Map(ids.map((id) => [id, identityKeyPair()]));
  const peers = new Map(ids.map((id) => [id, keys.get(id)!.publicKey]));
  const expander = new MaskExpander({ threads: 0 });
  after(() => expander.close());

  function secureEngine(silent: Partial<Record<string, Stage>> = {}): { e: RoundEngine; transport: InMemoryTransport } {
    const config = resolveConfig(base);
    const transport = new InMemoryTransport(ids.map((id, k) => [id, secureInMemoryClient(id, keys.get(id)!, peers, (k + 1) / 100, silent[id])] as const));
    const sessions = new SecureSessions({
      config,
      runId: new Uint8Array(16).fill(1),
      identity: (id) => peers.get(id),
      expander,
      send: transport.sendStage,
      privacyProblem: () => undefined,
      bvaShape: { ns: 2, classes: 2, inputSize: 4 },
    });
    return { e: engine(config, transport, { strategy: new NoSharedSet(new SecureMean(sessions, spec)) }), transport };
  }

  it('w_{t+1} = w_t + the mean update of the survivors, the clients never upload weights', async () => {
    const { e } = secureEngine();
    const { metrics } = await e.runRound(1);
    expect([metrics.status, metrics.survivors, metrics.secaggDropouts]).to.deep.equal(['completed', 4, []]);
    expect(Object.keys(metrics.ms)).to.deep.equal(['train', 'keyAgreement', 'modelSum', 'sharedSet']);
    for (const v of e.weights) expect(v).to.be.closeTo(0.025, 8 / 2 ** 22);
  });

  it('a client silent at collectMasked is a secure-aggregation dropout, decided by its answer, not by a timer', async () => {
    const { e } = secureEngine({ c3: 'collectMasked' });
    const { metrics } = await e.runRound(1);
    expect([metrics.status, metrics.trained, metrics.survivors, metrics.secaggDropouts]).to.deep.equal(['completed', 4, 3, ['c3']]);
    for (const v of e.weights) expect(v).to.be.closeTo(0.02, 8 / 2 ** 22);
  });

  it('below the threshold the round aborts at the stage that lost the clients, the model unchanged', async () => {
    const { e } = secureEngine({ c1: 'setup', c2: 'setup' });
    const { metrics } = await e.runRound(1);
    expect(metrics.status).to.equal('aborted');
    expect(metrics.abort).to.deep.include({ stage: 'setup', needed: 3, got: 2 });
    expect(Array.from(e.weights)).to.deep.equal(new Array(D).fill(0));
  });
});
