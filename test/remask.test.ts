/**
 * After a coordinator restart the interrupted round runs again, and clients used to mask the
 * same update a second time; two sums of one update over different survivor sets give it away. A client now
 * refuses to mask an input again once an earlier key agreement for that sum reached unmask, so its update enters
 * at most one released sum; a restart before unmask (nothing released) still re-runs the round. The same client
 * sessions stay connected across the restart (a new coordinator resumes on the same port).
 */
import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../shared/compute/backend.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { partition, sampleSharedSet } from '../shared/data/partition.js';
import { identityKeyPair } from '../shared/secagg/keys.js';
import { clientIdOf } from '../shared/federated/secure-model.js';
import { unpack } from '../shared/protocol/wire.js';
import { Coordinator, type RoundMetrics } from '../server/coordinator.js';
import { connect, type ClientSession } from '../client/session.js';
import { LocalTrainer } from '../client/trainer.js';

const data = makeSyntheticDataset({ count: 300, testCount: 40, seed: 21 });
const cfg = {
  method: 'fedavg',
  numClients: 5,
  fraction: 1,
  rounds: 3,
  localEpochs: 1,
  batchSize: 32,
  lr: 0.05,
  sharedSetSize: 8,
  evalEvery: 3,
  evalAttacks: ['clean'],
  finalAttacks: ['clean'],
  seed: 13,
};

async function restartAt(stage: 'shareKeys' | 'unmask', resumeSecure = true): Promise<{ second: RoundMetrics[]; refused: number }> {
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'rfl-remask-'));
  const shared = sampleSharedSet(data.train.count, cfg.sharedSetSize, cfg.seed);
  const parts = partition(data.train.labels, { kind: 'iid' }, cfg.numClients, cfg.seed, shared);
  const ids = parts.map((_, k) => clientIdOf(k));
  const keys = ids.map(() => identityKeyPair());
  const enrolment = new Map(ids.map((id, k) => [id, keys[k]!.publicKey]));
  const make = (resume: boolean, secure = true): Coordinator => new Coordinator({ federated: cfg, data, tokens: new Set(['secret']), enrolment, runDir, resume, secure, log: () => undefined });
  const first = make(false);
  const port = await first.listen(0);
  const trainers = parts.map((p) => new LocalTrainer(data.train, p));
  let refused = 0;
  const sessions: ClientSession[] = ids.map((id, k) =>
    connect(`http://127.0.0.1:${port}`, {
      clientId: id,
      token: 'secret',
      identity: keys[k]!,
      trainer: trainers[k]!,
      rounding: 'half-up',
      log: (l) => void (/remask|already in a sum that reached unmask|not sent in plaintext/.test(l) && refused++),
    }),
  );
  try {
    await Promise.all(sessions.map((s) => s.ready));
    // Stop the coordinator once every client has received round 2's `stage` request (so what the clients do
    // after the restart does not hang on which requests went out before the stop).
    let reached = 0;
    for (const s of sessions) {
      s.socket.prependAny((event: string, ...args: unknown[]) => {
        if (event !== `secagg:${stage}`) return;
        const msg = unpack(args[0], 'test') as { env: { round: number } };
        if (msg.env.round === 2 && ++reached === sessions.length) void first.close();
      });
    }
    await first.run();
    expect(first.completedRounds).to.equal(1);
    await first.close();
    // A new coordinator resumes on the same port; the same client sessions reconnect to it.
    const second = make(true, resumeSecure);
    await second.listen(port);
    const rounds: RoundMetrics[] = [];
    try {
      await second.run({ onRound: (m) => rounds.push(m) });
    } finally {
      await second.close();
    }
    return { second: rounds, refused };
  } finally {
    for (const s of sessions) s.close();
    for (const t of trainers) t.dispose();
  }
}

describe('an update enters at most one released sum', function () {
  this.timeout(120000);
  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
  });

  it('after a restart past unmask, the clients refuse to mask round 2 again; the round aborts and round 3 runs', async () => {
    const { second, refused } = await restartAt('unmask');
    expect(second.map((r) => r.round)).to.deep.equal([2, 3]);
    expect(second[0]!.status).to.equal('aborted');
    expect(second[0]!.abort).to.deep.include({ stage: 'collectMasked', phase: 'model' });
    expect(refused).to.be.greaterThan(2);
    expect(second[1]!.status).to.equal('completed');
  });

  it('after a restart before anyone masked, round 2 runs again in full', async () => {
    const { second, refused } = await restartAt('shareKeys');
    expect(second.map((r) => [r.round, r.status])).to.deep.equal([
      [2, 'completed'],
      [3, 'completed'],
    ]);
    expect(second[0]!.survivors).to.equal(5);
    expect(refused).to.equal(0);
  });

  it("a coordinator resumed in plaintext does not get the masked round's updates in the clear", async () => {
    const { second, refused } = await restartAt('unmask', false);
    expect(second.map((r) => r.round)).to.deep.equal([2, 3]);
    // Round 2's updates were masked for a sum that reached unmask: no client sends them as plain weights.
    expect(second[0]!.status).to.equal('aborted');
    expect(second[0]!.trained).to.equal(0);
    expect(refused).to.be.greaterThan(2);
    expect(second[1]!.status).to.equal('completed');
  });
});
