/**
 * Fault tests with a real coordinator process: `rfl coordinator` runs as a child
 * process; it is SIGKILLed when round 2 reaches a given stage (as a client sees it), then started again with
 * `--resume` on the same port, and the same client sessions reconnect. The final weights (read from the run
 * directory's checkpoint) are compared with an uninterrupted run's: bit-exact in plaintext; in secure mode equal
 * within quantisation when the kill came before unmask, and when it came at unmask the resumed round 2 is refused
 * by the clients (an update enters at most one released sum, §6.2) and aborts by name, while round 3 runs.
 * Synthetic data and the linear model keep each run to seconds.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../shared/compute/backend.js';
import { unpack } from '../shared/protocol/wire.js';
import { readCheckpoint } from '../server/run-store.js';
import { writeEnrolment } from '../server/enrolment.js';
import { closedPort } from './helpers/closed-port.js';
import { syntheticClients } from './helpers/synthetic-clients.js';

const N = 4;
const federated = {
  method: 'fedavg',
  model: 'linear',
  numClients: N,
  fraction: 1,
  rounds: 3,
  localEpochs: 1,
  batchSize: 32,
  lr: 0.1,
  sharedSetSize: 8,
  seed: 7,
  evalEvery: 3,
  evalAttacks: ['clean'],
  finalAttacks: ['clean'],
};

/**
 * Where to kill the coordinator: when the first client receives this request in round 2, or, with `everyone`,
 * once every client has received it (so what the clients do next does not hang on which requests the coordinator
 * had sent before it died).
 */
type KillPoint = ({ event: 'round:train' } | { event: 'secagg'; stage: string }) & { everyone?: boolean };

interface Outcome {
  weights: Float32Array;
  metrics: { round: number; status: string; abort?: { stage: string; phase: string } }[];
  killed: boolean;
}

async function runOnce(secure: boolean, kill: KillPoint | undefined): Promise<Outcome> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rfl-faults-'));
  const runDir = path.join(dir, 'run');
  const clients = syntheticClients(N, federated);
  const enrolment = path.join(dir, 'enrolment.json');
  writeEnrolment(enrolment, clients.enrolment);
  const config = path.join(dir, 'coordinator.json');
  writeFileSync(config, JSON.stringify({ federated, dataset: 'synthetic', secure, minClients: N }));
  const port = await closedPort();
  const start = (resume: boolean): ChildProcess =>
    spawn(
      process.execPath,
      [path.resolve('dist/cli/rfl.js'), 'coordinator', '--config', config, '--enrolment', enrolment, '--port', String(port), ...(resume ? ['--resume', runDir] : ['--run-dir', runDir])],
      { env: { ...process.env, RFL_BACKEND: 'wasm' }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
  const exited = (c: ChildProcess): Promise<number | null> => new Promise((resolve) => c.once('exit', (code) => resolve(code)));
  let child = start(false);
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const sessions = clients.connect(`http://127.0.0.1:${port}`);
  let killed = false;
  try {
    if (kill !== undefined) {
      let reached = 0;
      for (const session of kill.everyone === true ? sessions : [sessions[0]!]) {
        session.socket.prependAny((event: string, ...args: unknown[]) => {
          // The request's own event: `round:train`, or the stage's `secagg:<stage>`.
          if (killed || event !== (kill.event === 'round:train' ? 'round:train' : `secagg:${kill.stage}`)) return;
          const msg = unpack(args[0], 'test') as { round?: number; env?: { round: number } };
          const round = event === 'round:train' ? msg.round : msg.env?.round;
          if (round === 2 && ++reached === (kill.everyone === true ? sessions.length : 1)) {
            killed = true;
            child.kill('SIGKILL');
          }
        });
      }
    }
    const first = await exited(child);
    if (kill !== undefined) {
      expect(killed, `the kill point was reached (coordinator log: ${log.slice(-400)})`).to.equal(true);
      expect(first).to.equal(null); // killed by the signal
      child = start(true);
      child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
      expect(await exited(child), log.slice(-600)).to.equal(0);
    } else {
      expect(first, log.slice(-600)).to.equal(0);
    }
    const metrics = readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Outcome['metrics'][number]);
    return { weights: readCheckpoint(path.join(runDir, 'checkpoint.bin')).weights, metrics, killed };
  } finally {
    clients.close();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

const maxDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe('faults: SIGKILL of a real coordinator process, then --resume', function () {
  this.timeout(240000);
  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
  });

  it("plaintext: killed during round 2's training, the resumed run ends bit-exact with the uninterrupted one", async () => {
    const whole = await runOnce(false, undefined);
    const resumed = await runOnce(false, { event: 'round:train' });
    expect(resumed.metrics.map((m) => [m.round, m.status])).to.deep.equal([
      [1, 'completed'],
      [2, 'completed'],
      [3, 'completed'],
    ]);
    expect(Buffer.from(resumed.weights.buffer).equals(Buffer.from(whole.weights.buffer))).to.equal(true);
  });

  for (const stage of ['setup', 'shareKeys', 'checkBoxes', 'collectMasked']) {
    it(`secure: killed at round 2's ${stage}, the resumed run ends equal within quantisation`, async () => {
      const whole = await runOnce(true, undefined);
      const resumed = await runOnce(true, { event: 'secagg', stage });
      expect(resumed.metrics.map((m) => [m.round, m.status])).to.deep.equal([
        [1, 'completed'],
        [2, 'completed'],
        [3, 'completed'],
      ]);
      expect(maxDiff(resumed.weights, whole.weights)).to.be.below((2 * 3 * 8) / 2 ** 22);
    });
  }

  it("secure: killed at round 2's unmask, the clients refuse to mask it again; round 2 aborts by name, round 3 runs", async () => {
    // Killed once every client has its unmask request: each has then let its masked input go into a sum that may
    // have been released, and so refuses to mask it again.
    const resumed = await runOnce(true, { event: 'secagg', stage: 'unmask', everyone: true });
    expect(resumed.metrics.map((m) => [m.round, m.status])).to.deep.equal([
      [1, 'completed'],
      [2, 'aborted'],
      [3, 'completed'],
    ]);
    expect(resumed.metrics[1]!.abort).to.deep.include({ stage: 'collectMasked', phase: 'model' });
  });
});
