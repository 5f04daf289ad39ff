/**
 * A simulation that fails while its clients connect leaves nothing behind: the in-process coordinator is closed
 * (its port, socket.io and worker threads would keep the process alive), and the clients connected before one was
 * refused are disconnected. With an external coordinator, a malformed `round:end` notice is ignored, not reported
 * as a round. A queue worker's `--backend` reaches the cell's pool workers, and results.json names it.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { Server } from 'socket.io';
import { initBackend } from '../shared/compute/backend.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { clientIdOf } from '../shared/federated/secure-model.js';
import { runSimulation, type SimRoundRecord } from '../simulations/engine.js';
import { resolveScenario } from '../simulations/scenario.js';
import { destroyIdlePools, idlePools, idleWorkers } from '../simulations/pool/pool.js';
import { expandMatrix, parseMatrix } from '../simulations/benchmark/matrix.js';
import { processCell } from '../simulations/benchmark/queue/cell-processor.js';
import { CELL_JOB, jobIdOf, matrixFingerprint, QUEUE_PROTOCOL } from '../simulations/benchmark/queue/protocol.js';
import { TINY_LINEAR_SCENARIO } from './helpers/tiny-federation.js';

const scenario = { ...TINY_LINEAR_SCENARIO, seed: 5 };
/** The scenario of a simulation run directly (a matrix cell takes its method from the matrix's defence). */
const direct = { ...scenario, method: 'fedavg', secure: false };
const data = makeSyntheticDataset({ count: 200, testCount: 40, seed: 3 });
const runDir = (): string => path.join(mkdtempSync(path.join(os.tmpdir(), 'rfl-engine-cleanup-')), 'run');

/** A stand-in external coordinator: admits the clients `admit` accepts (refusing the others), and nothing more. */
async function fakeCoordinator(admit: (clientId: string) => boolean): Promise<{ io: Server; url: string; close: () => Promise<void> }> {
  const http = createServer();
  const io = new Server(http, { serveClient: false });
  io.use((socket, next) => {
    const id = (socket.handshake.auth as { clientId?: string }).clientId ?? '';
    next(admit(id) ? undefined : new Error(`refused: ${id} is not enrolled`));
  });
  io.on('connection', (socket) => socket.emit('auth:accepted'));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
  return { io, url, close: () => new Promise<void>((resolve) => void io.close(() => resolve())) };
}

/** Polls `f` until it holds or `ms` pass; whether it held. */
async function eventually(f: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

describe('simulation engine: cleanup on failure, external notices, the cell backend', function () {
  this.timeout(240000);
  before(async () => {
    // The queue test below runs its cell on wasm in this thread, as a worker started with --backend wasm would.
    await initBackend({ backend: 'wasm', quiet: true });
  });
  afterEach(async () => {
    await destroyIdlePools();
  });

  it('a simulation that fails once its coordinator listens closes the coordinator: the process exits on its own', async () => {
    const dist = (p: string): string => pathToFileURL(path.resolve('dist', p)).href;
    const script = `
      import { runSimulation } from ${JSON.stringify(dist('simulations/engine.js'))};
      import { resolveScenario } from ${JSON.stringify(dist('simulations/scenario.js'))};
      import { makeSyntheticDataset } from ${JSON.stringify(dist('shared/data/synthetic.js'))};
      try {
        await runSimulation({
          scenario: resolveScenario(${JSON.stringify(direct)}),
          runDir: ${JSON.stringify(runDir())},
          data: makeSyntheticDataset({ count: 200, testCount: 40, seed: 3 }),
          gpuEval: false,
          log: () => undefined,
          onListening: ({ url }) => {
            console.log('listening ' + url);
            throw new Error('injected: the clients cannot connect');
          },
        });
        console.log('resolved');
      } catch (err) {
        console.log('rejected: ' + err.message);
      }
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RFL_BACKEND: 'wasm' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = await new Promise<number | null | 'hung'>((resolve) => {
      const timer = setTimeout(() => resolve('hung'), 90_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
    if (exited === 'hung') child.kill('SIGKILL');
    expect(out, err).to.match(/^listening http:\/\/127\.0\.0\.1:\d+\nrejected: injected: the clients cannot connect\n$/);
    expect(exited, `the process kept running after the simulation rejected (stderr: ${err})`).to.equal(0);
  });

  it('a client refused by an external coordinator: the simulation rejects and the clients already admitted disconnect', async () => {
    const refused = clientIdOf(2);
    const fake = await fakeCoordinator((id) => id !== refused);
    try {
      let error: Error | undefined;
      await runSimulation({ scenario: resolveScenario(direct), runDir: runDir(), data, gpuEval: false, url: fake.url, token: 't', log: () => undefined }).catch((e: Error) => (error = e));
      expect(error?.message).to.match(new RegExp(`refused: ${refused} is not enrolled`));
      const gone = await eventually(() => fake.io.of('/').sockets.size === 0, 5000);
      expect(gone, `${fake.io.of('/').sockets.size} clients still connected to the coordinator`).to.equal(true);
    } finally {
      await fake.close();
    }
  });

  it("an external coordinator's malformed round:end is logged and ignored, not reported as a round", async () => {
    const fake = await fakeCoordinator(() => true);
    const admitted = new Promise<void>((resolve) => fake.io.on('connection', () => fake.io.of('/').sockets.size === scenario.numClients && resolve()));
    const rounds: Pick<SimRoundRecord, 'round' | 'status'>[] = [];
    const lines: string[] = [];
    try {
      const sim = runSimulation({
        scenario: resolveScenario(direct),
        runDir: runDir(),
        data,
        gpuEval: false,
        url: fake.url,
        token: 't',
        log: (l) => lines.push(l),
        onRound: (r) => rounds.push({ round: r.round, status: r.status }),
      });
      await admitted;
      // The simulation listens for notices once every client is admitted (a moment after the last one is).
      await new Promise((r) => setTimeout(r, 1000));
      fake.io.emit('round:end', { round: 'one', status: 'finished' });
      fake.io.emit('round:end', { round: 1, status: 'completed' });
      await new Promise((r) => setTimeout(r, 500));
      fake.io.disconnectSockets(true);
      await sim;
      expect(rounds).to.deep.equal([{ round: 1, status: 'completed' }]);
      expect(lines.filter((l) => l.startsWith('round:end ignored: '))).to.have.length(1);
    } finally {
      await fake.close();
    }
  });

  it('a queue cell run with backend wasm records wasm, and its pool workers ran on wasm', async () => {
    const { seed: _seed, ...base } = scenario;
    const matrix = parseMatrix({
      name: 'backend',
      base,
      defenses: [{ name: 'fedavg', method: 'fedavg', secure: false }],
      threats: [{ name: 'none' }],
      seeds: [1],
    });
    const fingerprint = matrixFingerprint(matrix);
    const cell = expandMatrix(matrix)[0]!;
    const job = {
      id: jobIdOf(fingerprint, cell.id),
      name: CELL_JOB,
      data: { protocol: QUEUE_PROTOCOL, fingerprint, matrix, cell: cell.id },
      attemptsStarted: 1,
      stalledCounter: 0,
      updateProgress: () => Promise.resolve(),
    };
    const result = await processCell(job, { name: 'w', backend: 'wasm', workers: 1 });
    const file = result.files.find((f) => f.name === 'results.json')!;
    const results = JSON.parse(gunzipSync(Buffer.from(file.gzipBase64, 'base64')).toString('utf8')) as { machine: { backend: string } };
    expect(results.machine.backend).to.equal('wasm');
    // The cell's pool waits idle in the cache: its workers say what they loaded.
    expect(idlePools()).to.have.length(1);
    const [workers] = await idleWorkers();
    expect(workers!.map((w) => w.backend)).to.deep.equal(['wasm']);
  });
});
