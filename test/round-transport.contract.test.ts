/**
 * The round-transport contract (after DISCO's shared test suites run against each implementation): the same
 * cases against the in-memory transport and the socket.io transport. A batch of per-client requests gives one
 * outcome per client, in the batch's order; a client that refuses, sends a reply that fails validation, never
 * answers, is not connected or disconnects mid-request is a failure record, never an exception; secure-aggregation
 * stages come back validated and carry a real secure sum; `round:end` reaches the cohort.
 */
import { expect } from 'chai';
import { NO_REPLY, type InMemoryClient, type ReceivedTrainRequest } from '../shared/engine/in-memory-transport.js';
import type { RoundEnd, TrainRequest } from '../shared/protocol/events.js';
import { toWire } from '../shared/protocol/wire.js';
import { modelUpdateSpec } from '../shared/federated/secure-model.js';
import { identityKeyPair } from '../shared/secagg/keys.js';
import { SecureSumSession } from '../server/secagg-session.js';
import { secureInMemoryClient } from './helpers/secure-in-memory-client.js';
import { inMemoryHarness, socketHarness, type TransportHarness } from './helpers/transport-harness.js';

const D = 6;

/** A round:train request of round 1 with w = (0, 1, …, D − 1). */
function request(returnWeights = true): TrainRequest {
  return {
    round: 1,
    model: 'test',
    weights: toWire(Float32Array.from({ length: D }, (_, i) => i)),
    train: { epochs: 1, batchSize: 8, lr: 0.1, momentum: 0, seed: 1, sharedLossWeight: 0 },
    returnWeights,
  };
}

/** An honest client: w + k, k examples, loss k / 10. */
function honest(k: number, seen: ReceivedTrainRequest[] = []): InMemoryClient {
  return {
    async train(req) {
      seen.push(req);
      return { numExamples: k, loss: k / 10, ...(req.returnWeights ? { weights: toWire(req.weightsF32.map((v) => v + k)) } : {}) };
    },
  };
}

const transports: [string, () => Promise<TransportHarness>][] = [
  ['in-memory', inMemoryHarness],
  ['socket.io', socketHarness],
];

for (const [name, make] of transports) {
  describe(`round transport contract: ${name}`, function () {
    this.timeout(20000);
    let h: TransportHarness;
    beforeEach(async () => {
      h = await make();
    });
    afterEach(async () => {
      await h.close();
    });

    it('gives one validated outcome per client, in the order of the requests, and counts the bytes sent', async () => {
      const seen: ReceivedTrainRequest[] = [];
      for (const k of [3, 1, 2]) await h.connect(`c${k}`, honest(k, seen));
      expect([...h.transport.connected()].sort()).to.deep.equal(['c1', 'c2', 'c3']);
      const before = h.transport.bytesSent;
      const out = await h.transport.sendAndReceive(new Map(['c2', 'c3', 'c1'].map((id) => [id, request()])));
      expect([...out.keys()]).to.deep.equal(['c2', 'c3', 'c1']);
      for (const [id, o] of out) {
        const k = Number(id.slice(1));
        expect(o.ok).to.equal(true);
        if (!o.ok) continue;
        expect(o.reply.numExamples).to.equal(k);
        expect(o.reply.loss).to.equal(k / 10);
        expect(Array.from(o.reply.weightsF32!)).to.deep.equal(Array.from({ length: D }, (_, i) => i + k));
      }
      expect(h.transport.bytesSent - before).to.equal(3 * 4 * D);
      // The clients got the weights decoded, as sent.
      expect(seen.map((r) => Array.from(r.weightsF32))).to.deep.equal([0, 1, 2].map(() => Array.from({ length: D }, (_, i) => i)));
    });

    it('records a refusal, a reply that fails validation and a client that is not connected as failures', async () => {
      await h.connect('ok', honest(1));
      await h.connect('refuses', { train: async () => Promise.reject(Object.assign(new Error('no data'), { code: 'bad-payload' })) });
      await h.connect('short', { train: async () => ({ numExamples: 1, loss: 0.1, weights: toWire(new Float32Array(D - 1)) }) });
      await h.connect('nan', { train: async () => ({ numExamples: 1, loss: 0.1, weights: toWire(new Float32Array(D).fill(Number.NaN)) }) });
      await h.connect('no-weights', { train: async () => ({ numExamples: 1, loss: 0.1 }) });
      await h.connect('negative', { train: async () => ({ numExamples: -1, loss: 0.1, weights: toWire(new Float32Array(D)) }) });
      const ids = ['ok', 'refuses', 'short', 'nan', 'no-weights', 'negative', 'absent'];
      const out = await h.transport.sendAndReceive(new Map(ids.map((id) => [id, request()])));
      expect(ids.map((id) => out.get(id)!.ok)).to.deep.equal([true, false, false, false, false, false, false]);
      const reason = (id: string): string => {
        const o = out.get(id)!;
        return o.ok ? '' : o.reason;
      };
      expect(reason('refuses')).to.match(/no data/);
      expect(reason('short')).to.match(/weights/);
      expect(reason('no-weights')).to.match(/weights missing/);
      expect(reason('absent')).to.equal('not connected');
    });

    it('accepts a reply without weights when none were asked for', async () => {
      await h.connect('a', honest(2));
      const out = await h.transport.sendAndReceive(new Map([['a', request(false)]]));
      const o = out.get('a')!;
      expect(o.ok && o.reply.weightsF32 === undefined && o.reply.numExamples === 2).to.equal(true);
    });

    it('records a client that never answers, or disconnects mid-request, as a failure', async () => {
      await h.connect('ok', honest(1));
      await h.connect('silent', { train: async () => NO_REPLY });
      await h.connect('leaves', {
        train: async () => {
          await h.disconnect('leaves');
          return NO_REPLY;
        },
      });
      const out = await h.transport.sendAndReceive(new Map(['ok', 'silent', 'leaves'].map((id) => [id, request()])));
      expect(['ok', 'silent', 'leaves'].map((id) => out.get(id)!.ok)).to.deep.equal([true, false, false]);
      expect(h.transport.connected()).to.not.include('leaves');
    });

    it('validates stage replies: a good one resolves, a malformed one, a refusal and an absent client reject', async () => {
      const signature = new Uint8Array(64).fill(7);
      const env = { runId: new Uint8Array(16), round: 1, stage: 'consistency' as const, phase: 'model', attempt: 0 };
      await h.connect('good', { train: async () => NO_REPLY, stage: async () => ({ signature }) });
      await h.connect('bad', { train: async () => NO_REPLY, stage: async () => ({ signature: new Uint8Array(3) }) });
      await h.connect('refuses', { train: async () => NO_REPLY });
      const req = { env, u3: ['good', 'bad'] };
      const good = await h.transport.sendStage('consistency', 'good', req);
      expect(Array.from(good.signature)).to.deep.equal(Array.from(signature));
      for (const id of ['bad', 'refuses', 'absent']) {
        let err: unknown;
        await h.transport.sendStage('consistency', id, req).catch((e: unknown) => (err = e));
        expect(err, id).to.be.instanceOf(Error);
      }
    });

    it('carries a secure sum through the stage sender; a client silent at collectMasked leaves it', async () => {
      const ids = ['s1', 's2', 's3', 's4'];
      const keys = new Map(ids.map((id) => [id, identityKeyPair()]));
      const peers = new Map(ids.map((id) => [id, keys.get(id)!.publicKey]));
      for (const [k, id] of ids.entries()) await h.connect(id, secureInMemoryClient(id, keys.get(id)!, peers, (k + 1) / 100, id === 's4' ? 'collectMasked' : undefined));
      const trained = await h.transport.sendAndReceive(new Map(ids.map((id) => [id, request(false)])));
      expect([...trained.values()].every((o) => o.ok)).to.equal(true);
      const session = new SecureSumSession(
        { runId: new Uint8Array(16).fill(2), round: 1, cohort: ids, identity: (id) => peers.get(id), plannedSums: [{ phase: 'model', spec: modelUpdateSpec(D) }] },
        h.transport.sendStage,
      );
      await session.start();
      const r = await session.sum('model');
      expect(r.survivors).to.deep.equal(['s1', 's2', 's3']);
      expect(r.dropped).to.deep.equal(['s4']);
      for (const v of r.sums[0]!) expect(v).to.be.closeTo(0.06, (3 * 8) / 2 ** 22);
    });

    it('tells the cohort the round is over, skipping clients that are gone', async () => {
      const ends: [string, RoundEnd][] = [];
      let arrived: () => void = () => undefined;
      const both = new Promise<void>((r) => (arrived = r));
      const listening = (id: string): InMemoryClient => ({
        ...honest(1),
        roundEnd: (end) => {
          ends.push([id, end]);
          if (ends.length === 2) arrived();
        },
      });
      await h.connect('a', listening('a'));
      await h.connect('b', listening('b'));
      h.transport.endRound(['a', 'b', 'gone'], { round: 4, status: 'aborted', reason: 'setup below threshold' });
      await both;
      expect(ends.sort((x, y) => x[0].localeCompare(y[0]))).to.deep.equal([
        ['a', { round: 4, status: 'aborted', reason: 'setup below threshold' }],
        ['b', { round: 4, status: 'aborted', reason: 'setup below threshold' }],
      ]);
    });
  });
}
