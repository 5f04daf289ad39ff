/**
 * The coordinator and clients over socket.io (port 0, no sleeps): secure fed-bva rounds end to end and equal to
 * the in-process runner, clients killed at each secure-aggregation stage, aborts below threshold, bad inputs,
 * checkpoint and resume, and flat tensor counts.
 */
import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { io } from 'socket.io-client';
import { initBackend } from '../shared/compute/backend.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { runFederated } from '../shared/federated/runner.js';
import { identityKeyPair } from '../shared/secagg/keys.js';
import { STAGES } from '../shared/secagg/messages.js';
import { pack, unpack } from '../shared/protocol/wire.js';
import { PROTOCOL_VERSION } from '../shared/protocol/events.js';
import { connect, type ClientSession } from '../client/session.js';
import { LocalTrainer } from '../client/trainer.js';
import { startFederation, type Federation } from './helpers/federation.js';
import { rawClient } from './helpers/raw-client.js';
import type { RoundMetrics } from '../server/coordinator.js';

const data = makeSyntheticDataset({ count: 300, testCount: 40, seed: 3 });
const base = { numClients: 5, fraction: 1, rounds: 2, localEpochs: 1, batchSize: 32, lr: 0.05, sharedSetSize: 8, evalEvery: 2, evalAttacks: ['clean'], finalAttacks: ['clean'], seed: 5 };

/** Makes client k close its connection when it receives secure-aggregation stage `stage` (of sum `phase`). */
function killAt(f: Federation, k: number, stage: string, phase?: string): void {
  const c = f.clients[k]!;
  c.socket.prependAny((event: string, ...args: unknown[]) => {
    if (event !== `secagg:${stage}`) return;
    const req = unpack(args[0], 'test') as { env: { phase: string } };
    if (phase === undefined || req.env.phase === phase) c.close();
  });
}

async function run(f: Federation): Promise<RoundMetrics[]> {
  const rounds: RoundMetrics[] = [];
  await f.coordinator.run({ onRound: (m) => rounds.push(m) });
  return rounds;
}

const maxDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe('coordinator and clients over socket.io', function () {
  this.timeout(180000);
  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
  });

  it('secure fed-bva rounds equal the in-process runner (emulating secure arithmetic) on the same seed', async () => {
    const f = await startFederation(data, { ...base, method: 'fed-bva' });
    let rounds: RoundMetrics[];
    try {
      rounds = await run(f);
    } finally {
      await f.close();
    }
    expect(rounds.map((r) => r.status)).to.deep.equal(['completed', 'completed']);
    expect(rounds[0]!.bvaSums!.map((s) => s.phase)).to.deep.equal(['bva/0/p1', 'bva/0/p2']);
    const ref = await runFederated(data, { ...base, method: 'fed-bva' }, {}, { emulateSecure: true });
    expect(maxDiff(f.coordinator.globalWeights(), ref.weights)).to.be.below(1e-6);
    // And within the quantisation error of the float runner after one round.
    const f1 = await runFederated(data, { ...base, rounds: 1, method: 'fedavg' });
    const g = await startFederation(data, { ...base, rounds: 1, method: 'fedavg' });
    try {
      await run(g);
    } finally {
      await g.close();
    }
    expect(maxDiff(g.coordinator.globalWeights(), f1.weights)).to.be.below((2 * 8) / 2 ** 22 + 1e-6);
  });

  for (const [stage, phase] of [
    ['setup', undefined],
    ['shareKeys', undefined],
    ['collectMasked', 'model'],
    ['unmask', 'model'],
    ['collectMasked', 'bva/0/p2'],
  ] as const) {
    it(`a client killed at ${stage}${phase !== undefined ? ` of ${phase}` : ''} still yields the exact sum of the survivors`, async () => {
      const f = await startFederation(data, { ...base, rounds: 1, method: 'fed-bva' });
      const w0 = f.coordinator.globalWeights();
      killAt(f, 2, stage, phase);
      let rounds: RoundMetrics[];
      // The model sum's survivors: everyone but client 2 unless it died after sending its masked update.
      const inModel = stage === 'unmask' || phase === 'bva/0/p2' ? [0, 1, 2, 3, 4] : [0, 1, 3, 4];
      const expected = new Float32Array(w0.length);
      try {
        rounds = await run(f);
        const ws = inModel.map((k) => f.trainers[k]!.trainedWeights()!);
        for (let i = 0; i < w0.length; i++) expected[i] = w0[i]! + ws.reduce((a, w) => a + (w[i]! - w0[i]!), 0) / inModel.length;
      } finally {
        await f.close();
      }
      expect(rounds[0]!.status).to.equal('completed');
      expect(rounds[0]!.survivors).to.equal(inModel.length);
      // A drop during secure aggregation is counted apart from training failures, by id.
      expect(rounds[0]!.secaggDropouts).to.deep.equal(inModel.length === 5 ? [] : [f.ids[2]]);
      expect(rounds[0]!.dropouts).to.equal(0);
      expect(maxDiff(f.coordinator.globalWeights(), expected)).to.be.below((2 * 8) / 2 ** 22 + 1e-6);
      if (phase === 'bva/0/p2') expect(rounds[0]!.bvaSums!.map((s) => s.survivors)).to.deep.equal([5, 4]);
    });
  }

  it('times its rounds on the injected clock, so the metrics hold no wall-clock time', async () => {
    const f = await startFederation(data, { ...base, method: 'fedavg', rounds: 1 }, { secure: false, clock: { now: () => 1000 } });
    let rounds: RoundMetrics[];
    try {
      rounds = await run(f);
    } finally {
      await f.close();
    }
    expect(rounds[0]!.status).to.equal('completed');
    const leaves = (v: unknown): number[] => (typeof v === 'number' ? [v] : typeof v === 'object' && v !== null ? Object.values(v).flatMap(leaves) : []);
    const ms = leaves(rounds[0]!.ms);
    expect(ms).to.not.be.empty;
    expect(ms.every((x) => x === 0)).to.equal(true);
  });

  it('below the threshold the round aborts and the model is unchanged; the next round runs', async () => {
    const f = await startFederation(data, { ...base, method: 'fedavg', rounds: 2 }, { minClients: 2 });
    const w0 = f.coordinator.globalWeights();
    for (const k of [0, 1, 2]) killAt(f, k, 'shareKeys');
    let rounds: RoundMetrics[];
    try {
      rounds = await run(f);
    } finally {
      await f.close();
    }
    expect(rounds[0]!.status).to.equal('aborted');
    expect(rounds[0]!.abort).to.deep.include({ stage: 'shareKeys', needed: 3, got: 2 });
    // Round 2 has only 2 clients left: too few for secure aggregation (n ≥ 3), also aborted, model unchanged.
    expect(rounds[1]!.status).to.equal('aborted');
    expect(Array.from(f.coordinator.globalWeights())).to.deep.equal(Array.from(w0));
  });

  it('refuses bad connections with a named reason and keeps serving honest clients', async () => {
    const f = await startFederation(data, { ...base, rounds: 1, method: 'fedavg' });
    const url = f.url;
    const refused = async (auth: object): Promise<string> => {
      const s = io(url, { auth, reconnection: false, transports: ['websocket'] });
      try {
        return await new Promise<string>((resolve, reject) => {
          s.once('connect', () => reject(new Error('connected')));
          s.once('connect_error', (e: Error & { data?: { code?: string } }) => resolve(`${e.data?.code}: ${e.message}`));
        });
      } finally {
        s.close();
      }
    };
    const pk = Buffer.from(identityKeyPair().publicKey).toString('hex');
    expect(await refused({ protocolVersion: PROTOCOL_VERSION, clientId: 'intruder', token: 'wrong', identityPk: pk })).to.match(/^auth: invalid token/);
    expect(await refused({ protocolVersion: 99, clientId: 'old', token: 'secret', identityPk: pk })).to.match(/^version: protocol version 99/);
    expect(await refused({ protocolVersion: PROTOCOL_VERSION, clientId: 'client-000', token: 'secret', identityPk: pk })).to.match(
      /^not-enrolled: client client-000 is enrolled with another identity key/,
    );
    expect(await refused({ protocolVersion: PROTOCOL_VERSION, clientId: 'stranger', token: 'secret', identityPk: pk })).to.match(/^not-enrolled: client stranger is not enrolled/);
    expect(await refused({ protocolVersion: PROTOCOL_VERSION, clientId: 'x', token: 'secret', identityPk: 'zz' })).to.match(/^bad-payload: handshake.identityPk/);
    expect(await refused({ hello: 1 })).to.match(/^bad-payload: handshake/);
    // A rogue but authenticated client that answers training with garbage and emits unknown events.
    const rogueKeys = identityKeyPair();
    f.coordinator.enrol('rogue', rogueKeys.publicKey);
    const { socket: rogue, outcome: rogueIn } = rawClient(url, 'rogue', rogueKeys.publicKey, { kind: 'sign', with: rogueKeys });
    rogue.on('round:train', (_req: unknown, ack: (r: unknown) => void) => ack({ meta: { ok: true, reply: { numExamples: -1, loss: NaN } }, blob: new Uint8Array(0) }));
    for (const stage of STAGES) rogue.on(`secagg:${stage}`, (_req: unknown, ack: (r: unknown) => void) => ack({ meta: { ok: true, reply: { y: { $b: [0, 999] } } }, blob: new Uint8Array(4) }));
    expect(await rogueIn).to.equal('accepted');
    rogue.emit('made-up-event' as never, { x: 1 } as never);
    let rounds: RoundMetrics[];
    try {
      rounds = await run(f);
    } finally {
      rogue.close();
      await f.close();
    }
    expect(rounds[0]!.status).to.equal('completed');
    // The cohort is 5 of the 6 connected clients; the rogue, if drawn, is excluded and the round completes.
    const honest = rounds[0]!.cohort.filter((id) => id !== 'rogue');
    expect(rounds[0]!.survivors).to.equal(honest.length);
    expect(rounds[0]!.trained).to.equal(honest.length);
  });

  it('drops a client whose plaintext weights contain NaN, or whose message exceeds the size limit; the round completes', async () => {
    const f = await startFederation(data, { ...base, numClients: 4, rounds: 1, method: 'fedavg' }, { secure: false });
    const badKeys = identityKeyPair();
    f.coordinator.enrol('nan', badKeys.publicKey);
    const { socket: bad, outcome: badIn } = rawClient(f.url, 'nan', badKeys.publicKey, { kind: 'sign', with: badKeys });
    bad.on('round:train', (_req: unknown, ack: (r: unknown) => void) => {
      const w = new Float32Array(21_840).fill(0.1);
      w[17] = NaN;
      ack(pack({ ok: true, reply: { numExamples: 10, loss: 1, weights: w } }));
    });
    const hugeKeys = identityKeyPair();
    f.coordinator.enrol('huge', hugeKeys.publicKey);
    const { socket: huge, outcome: hugeIn } = rawClient(f.url, 'huge', hugeKeys.publicKey, { kind: 'sign', with: hugeKeys });
    huge.on('round:train', (_req: unknown, ack: (r: unknown) => void) => ack(pack({ ok: true, reply: { numExamples: 10, loss: 1, weights: new Float32Array(2_000_000) } })));
    expect(await Promise.all([badIn, hugeIn])).to.deep.equal(['accepted', 'accepted']);
    let rounds: RoundMetrics[];
    try {
      rounds = await run(f);
    } finally {
      bad.close();
      huge.close();
      await f.close();
    }
    expect(rounds[0]!.status).to.equal('completed');
    const honest = rounds[0]!.cohort.filter((id) => id !== 'nan' && id !== 'huge');
    expect(rounds[0]!.trained).to.equal(honest.length);
    expect(Array.from(f.coordinator.globalWeights()).every(Number.isFinite)).to.equal(true);
  });

  it('a second connection that proves a connected identity replaces the older one', async () => {
    const f = await startFederation(data, { ...base, rounds: 1, method: 'fedavg' }, {}, false);
    const keys = identityKeyPair();
    f.coordinator.enrol('dev', keys.publicKey);
    const t = new LocalTrainer(data.train, [0, 1, 2]);
    const a = connect(f.url, { clientId: 'dev', token: 'secret', identity: keys, trainer: t, reconnection: false });
    await a.ready;
    const aClosed = new Promise<string>((r) => a.socket.once('disconnect', (reason) => r(reason)));
    const b = connect(f.url, { clientId: 'dev', token: 'secret', identity: keys, trainer: t, reconnection: false });
    try {
      await b.ready;
      expect(await aClosed).to.equal('io server disconnect');
      expect(f.coordinator.connected()).to.include('dev');
      expect(b.socket.connected).to.equal(true);
    } finally {
      a.close();
      b.close();
      t.dispose();
      await f.close();
    }
  });

  it('a coordinator stopped in the middle of a round and resumed from its run directory reaches the uninterrupted final model', async () => {
    const runDir = mkdtempSync(path.join(os.tmpdir(), 'rfl-resume-'));
    const cfg = { ...base, rounds: 3, method: 'fed-bva' };
    const first = await startFederation(data, cfg, { runDir });
    // Stop the coordinator while round 2's secure aggregation is under way (a client sees its key agreement).
    first.clients[0]!.socket.prependAny((event: string, ...args: unknown[]) => {
      if (event !== 'secagg:shareKeys') return;
      const req = unpack(args[0], 'test') as { env: { round: number } };
      if (req.env.round === 2) void first.coordinator.close();
    });
    await first.coordinator.run();
    expect(first.coordinator.completedRounds).to.equal(1);
    await first.close();
    const second = await startFederation(data, cfg, { runDir, resume: true }, true, first.keys);
    try {
      await second.coordinator.run();
    } finally {
      await second.close();
    }
    const whole = await startFederation(data, cfg);
    try {
      await whole.coordinator.run();
    } finally {
      await whole.close();
    }
    expect(second.coordinator.completedRounds).to.equal(3);
    expect(maxDiff(second.coordinator.globalWeights(), whole.coordinator.globalWeights())).to.be.below(1e-6);
  });

  it('keeps tf.memory().numTensors flat over many rounds', async () => {
    const f = await startFederation(data, { ...base, rounds: 1, method: 'eat-fed-bva' });
    let counts: number[] = [];
    try {
      await run(f);
      const n1 = tf.memory().numTensors;
      const more = await startFederation(data, { ...base, rounds: 4, method: 'eat-fed-bva' });
      try {
        await more.coordinator.run({ onRound: () => counts.push(tf.memory().numTensors) });
      } finally {
        await more.close();
      }
      counts = counts.map((c) => c - counts[0]!);
      void n1;
    } finally {
      await f.close();
    }
    expect(counts).to.deep.equal([0, 0, 0, 0]);
  });
});

export type { ClientSession };
