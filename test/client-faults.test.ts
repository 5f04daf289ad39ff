/**
 * Client fault tests with a real client process: a client SIGKILLed in any stage leaves the sum exact, or the
 * round aborts by name below t. Four clients run in this process, the fifth is a child process
 * (fixtures/kill-client.ts) that SIGKILLs itself on receiving a given request of round 2. The coordinator runs here,
 * in secure mode. After the run, round 2's global weights are compared with the plaintext mean of the recorded
 * updates of the clients that should be in the sum: within quantisation (c = 8, R = 2^22). With t = n, one kill
 * before the masked input must abort round 2 by name and leave the model as round 1 made it, bit for bit.
 * No wall-clock timeout decides anything: a killed process's socket closes, and the coordinator sees the disconnect.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../shared/compute/backend.js';
import { loadDataset } from '../shared/data/index.js';
import { connect } from '../client/session.js';
import { applyMeanUpdate, modelUpdate } from '../shared/federated/secure-model.js';
import { startFederation } from './helpers/federation.js';
import { RecordingTrainer, recorded } from './helpers/recording-trainer.js';

const N = 5;
const KILLED = 4; // client-004, the child process
const federated = {
  method: 'fedavg',
  model: 'linear',
  numClients: N,
  fraction: 1,
  rounds: 2,
  localEpochs: 1,
  batchSize: 32,
  lr: 0.1,
  sharedSetSize: 8,
  seed: 7,
  evalEvery: 2,
  evalAttacks: ['clean'],
  finalAttacks: ['clean'],
};
type Kill = { event: 'round:train' } | { event: 'secagg'; stage: string };

interface Outcome {
  metrics: { round: number; status: string; survivors?: number; dropouts: number; secaggDropouts?: string[]; abort?: { stage: string; phase: string } }[];
  final: Float32Array;
  dir: string;
  ids: string[];
  childExit: { code: number | null; signal: string | null };
}

async function runWithKill(kill: Kill, threshold?: number): Promise<Outcome> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rfl-client-faults-'));
  const data = loadDataset('synthetic');
  const fed = await startFederation(data, federated, { secure: true, minClients: N, ...(threshold !== undefined ? { secagg: { threshold } } : {}) }, false);
  const sessions = fed.ids.flatMap((id, k) =>
    k === KILLED
      ? []
      : [connect(fed.url, { clientId: id, token: 'secret', identity: fed.keys[k]!, trainer: new RecordingTrainer(fed.trainers[k]!, id, dir), rounding: 'half-up', reconnection: false })],
  );
  const args = {
    url: fed.url,
    token: 'secret',
    index: KILLED,
    n: N,
    seed: federated.seed,
    sharedSetSize: federated.sharedSetSize,
    secretKey: Buffer.from(fed.keys[KILLED]!.secretKey).toString('hex'),
    kill: { round: 2, ...kill },
    out: dir,
  };
  const child = spawn(process.execPath, [fileURLToPath(new URL('./fixtures/kill-client.js', import.meta.url)), JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<Outcome['childExit']>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  try {
    await Promise.all(sessions.map((s) => s.ready));
    await fed.coordinator.run();
    const childExit = await exited;
    expect(childExit.signal, `the child died by its own SIGKILL (stderr: ${stderr.slice(-400)})`).to.equal('SIGKILL');
    const metrics = readFileSync(path.join(fed.runDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Outcome['metrics'][number]);
    return { metrics, final: fed.coordinator.globalWeights(), dir, ids: fed.ids, childExit };
  } finally {
    for (const s of sessions) s.close();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await fed.close();
  }
}

/** Round 2's expected weights: w1 plus the mean update of `members`, from their recorded vectors. */
function expectedAfterRound2(o: Outcome, members: string[]): Float32Array {
  const base = recorded(o.dir, members[0]!, 2, 'base');
  const sum = new Float64Array(base.length);
  for (const id of members) {
    expect(Buffer.from(recorded(o.dir, id, 2, 'base').buffer).equals(Buffer.from(base.buffer)), `${id} trained from w1`).to.equal(true);
    const delta = modelUpdate(recorded(o.dir, id, 2, 'trained'), base);
    for (let i = 0; i < sum.length; i++) sum[i] += delta[i]!;
  }
  return applyMeanUpdate(base, sum, members.length);
}

const maxDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
// Per client ≤ c/R/2 of rounding error (c = 8, R = 2^22), averaged over the members; plus float32 rounding.
const BOUND = 8 / 2 ** 22 + 1e-6;

describe('faults: SIGKILL of a real client process in each stage of a secure round', function () {
  this.timeout(240000);
  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
  });

  const cases: { kill: Kill; name: string; inSum: boolean }[] = [
    { kill: { event: 'round:train' }, name: 'during training', inSum: false },
    { kill: { event: 'secagg', stage: 'setup' }, name: 'at setup', inSum: false },
    { kill: { event: 'secagg', stage: 'shareKeys' }, name: 'at shareKeys', inSum: false },
    { kill: { event: 'secagg', stage: 'checkBoxes' }, name: 'at checkBoxes', inSum: false },
    { kill: { event: 'secagg', stage: 'collectMasked' }, name: 'at collectMasked, its mask key reconstructed', inSum: false },
    { kill: { event: 'secagg', stage: 'unmask' }, name: 'at unmask, its masked input already in', inSum: true },
  ];
  for (const c of cases) {
    it(`killed ${c.name}: round 2's sum is exact over ${c.inSum ? 'all five' : 'the four others'}`, async () => {
      const o = await runWithKill(c.kill);
      expect(o.metrics.map((m) => [m.round, m.status])).to.deep.equal([
        [1, 'completed'],
        [2, 'completed'],
      ]);
      const killedId = o.ids[KILLED]!;
      const members = c.inSum ? o.ids : o.ids.filter((id) => id !== killedId);
      expect(o.metrics[1]!.survivors).to.equal(members.length);
      if (!c.inSum && c.kill.event === 'secagg') expect(o.metrics[1]!.secaggDropouts).to.deep.equal([killedId]);
      if (c.kill.event === 'round:train') expect(o.metrics[1]!.dropouts).to.equal(1);
      expect(maxDiff(o.final, expectedAfterRound2(o, members))).to.be.below(BOUND);
      // Round 1 had all five: the killed process left its round-1 record.
      expect(recorded(o.dir, killedId, 1, 'trained').length).to.equal(o.final.length);
    });
  }

  it('with t = n, killed at collectMasked: round 2 aborts by name and the model stays as round 1 left it, bit for bit', async () => {
    const o = await runWithKill({ event: 'secagg', stage: 'collectMasked' }, N);
    expect(o.metrics.map((m) => [m.round, m.status])).to.deep.equal([
      [1, 'completed'],
      [2, 'aborted'],
    ]);
    expect(o.metrics[1]!.abort).to.deep.include({ stage: 'collectMasked', phase: 'model' });
    const w1 = recorded(o.dir, o.ids[0]!, 2, 'base');
    expect(Buffer.from(o.final.buffer, o.final.byteOffset, o.final.byteLength).equals(Buffer.from(w1.buffer))).to.equal(true);
  });
});
