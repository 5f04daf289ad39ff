/**
 * One client's corrupt masked input (all zeros, or its previous round's masked vector replayed)
 * used to be accepted and destroyed the model. The unmasked sum must lie where n clipped, quantised inputs can
 * reach, or the sum is discarded with a named abort and the model does not move. Real coordinator and clients
 * over socket.io; the hostile client is an honest client whose collectMasked reply is rewritten on the way out.
 */
import { expect } from 'chai';
import { initBackend } from '../shared/compute/backend.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { pack, unpack } from '../shared/protocol/wire.js';
import { sumOutOfRange, type VectorSpec } from '../shared/secagg/quantize.js';
import type { ClientSession } from '../client/session.js';
import { startFederation } from './helpers/federation.js';
import type { RoundMetrics } from '../server/coordinator.js';

const data = makeSyntheticDataset({ count: 300, testCount: 40, seed: 8 });
const base = {
  numClients: 4,
  fraction: 1,
  rounds: 2,
  localEpochs: 1,
  batchSize: 32,
  lr: 0.05,
  sharedSetSize: 8,
  evalEvery: 2,
  evalAttacks: ['clean'],
  finalAttacks: ['clean'],
  seed: 6,
  method: 'fedavg',
};

/** Rewrites this client's masked model vector (round, y) → y' before it leaves. */
function tamperMasked(c: ClientSession, rewrite: (round: number, y: Uint8Array) => Uint8Array): void {
  const [honest] = c.socket.listeners('secagg:collectMasked');
  c.socket.off('secagg:collectMasked');
  c.socket.on('secagg:collectMasked', (raw, ack) => {
    const req = unpack(raw, 'test') as { env: { round: number; phase: string } };
    if (req.env.phase !== 'model') return honest!(raw, ack);
    honest!(raw, (res) => {
      // The reply as it would leave, rewritten: y travels as bytes.
      const r = unpack(res, 'test') as { ok: boolean; reply?: { y: Uint8Array; failedBoxes: string[] } };
      if (r.ok && r.reply !== undefined) r.reply.y = rewrite(req.env.round, r.reply.y);
      ack(pack(r) as typeof res);
    });
  });
}

async function runWith(rewrite: ((round: number, y: Uint8Array) => Uint8Array) | undefined): Promise<{ rounds: RoundMetrics[]; w0: Float32Array; w: Float32Array; after: Float32Array[] }> {
  const f = await startFederation(data, base);
  if (rewrite !== undefined) tamperMasked(f.clients[2]!, rewrite);
  const w0 = f.coordinator.globalWeights();
  const rounds: RoundMetrics[] = [];
  const after: Float32Array[] = [];
  try {
    await f.coordinator.run({
      onRound: (m) => {
        rounds.push(m);
        after.push(f.coordinator.globalWeights());
      },
    });
    return { rounds, w0, w: f.coordinator.globalWeights(), after };
  } finally {
    await f.close();
  }
}

describe('secure aggregation against a corrupt masked input', function () {
  this.timeout(120000);
  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
  });

  it('bounds each coordinate of an honest sum by n·R of its segment', () => {
    const spec: VectorSpec = [
      { name: 'update', length: 3, c: 1, R: 100, kind: 'signed' },
      { name: 'weight', length: 1, c: 1, R: 10, kind: 'weight' },
    ];
    expect(sumOutOfRange(spec, Uint32Array.from([0, 300, 150, 30]), 3)).to.equal(undefined);
    expect(sumOutOfRange(spec, Uint32Array.from([0, 301, 150, 31]), 3)).to.deep.equal({ segment: 'update', index: 1, value: 301, max: 300, count: 2 });
  });

  it('discards a sum holding an all-zero masked vector: named abort, model unchanged', async () => {
    const { rounds, w0, w, after } = await runWith((round, y) => (round === 1 ? new Uint8Array(y.length) : y));
    expect(rounds[0]!.status).to.equal('aborted');
    expect(rounds[0]!.abort).to.deep.include({ stage: 'range-check', phase: 'model' });
    expect(rounds[0]!.abort!.reason).to.match(/discarded sum 'model': \d+ of \d+ coordinates lie outside what 4 honest inputs can reach .*corrupt/);
    expect(Array.from(after[0]!)).to.deep.equal(Array.from(w0));
    // Round 2 is honest again and completes from the unchanged round-1 model.
    expect(rounds[1]!.status).to.equal('completed');
    expect(Array.from(w)).to.not.deep.equal(Array.from(w0));
  });

  it("discards a sum holding a replayed masked vector (the previous round's)", async () => {
    let first: Uint8Array | undefined;
    const { rounds } = await runWith((round, y) => {
      if (round === 1) {
        first = y.slice();
        return y;
      }
      return first!;
    });
    expect(rounds.map((r) => r.status)).to.deep.equal(['completed', 'aborted']);
    expect(rounds[1]!.abort).to.deep.include({ stage: 'range-check', phase: 'model' });
  });

  it('leaves honest rounds alone', async () => {
    const { rounds } = await runWith(undefined);
    expect(rounds.map((r) => r.status)).to.deep.equal(['completed', 'completed']);
  });
});
