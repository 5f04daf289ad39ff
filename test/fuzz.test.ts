/**
 * A fuzzer against a live coordinator process: three enrolled hostile clients send more
 * than 10,000 messages (unsolicited events with random names and payloads, and random replies to every request,
 * some shaped well enough to pass training and reach secure aggregation) while four honest clients train. The
 * coordinator must not crash; its live memory (after a full garbage collection, read by test/fixtures/heap-probe)
 * must peak at most 10 % above its level when the flood starts and settle within 2 % of it once the last round
 * is over; and the honest aggregate must equal that of a run without the fuzzers, bit for bit (half-up
 * rounding, the same seeds). Payloads come from fast-check with a fixed seed. The memory window opens after
 * round 1 (warm), when the flood starts; the figures are printed with RFL_FUZZ_LOG=1. The resident set size is not the measure: its peak depends on when
 * V8 collects, and a CI machine once saw it 10.4 % up with no leak (1-2 % on the machine that wrote the test).
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { io, type Socket } from 'socket.io-client';
import { initBackend } from '../shared/compute/backend.js';
import { identityKeyPair } from '../shared/secagg/keys.js';
import { PROTOCOL_VERSION } from '../shared/protocol/events.js';
import { signProof } from '../shared/protocol/identity-proof.js';
import { pack } from '../shared/protocol/wire.js';
import { STAGES } from '../shared/secagg/messages.js';
import { readCheckpoint } from '../server/run-store.js';
import { writeEnrolment } from '../server/enrolment.js';
import { closedPort } from './helpers/closed-port.js';
import { syntheticClients } from './helpers/synthetic-clients.js';

const HONEST = 4;
const FUZZERS = 3;
const EVENTS_PER_FUZZER = 3400;
// Evaluated every round, so the evaluation worker's warm-up falls in round 1, before the memory window.
const federated = {
  method: 'fedavg',
  model: 'linear',
  numClients: HONEST,
  fraction: 1,
  rounds: 3,
  localEpochs: 1,
  batchSize: 32,
  lr: 0.1,
  sharedSetSize: 8,
  seed: 17,
  evalEvery: 1,
  evalAttacks: ['clean'],
  finalAttacks: ['clean'],
};

const junk = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.uint8Array({ maxLength: 512 }),
  fc.record({ meta: fc.jsonValue({ maxDepth: 2 }), blob: fc.uint8Array({ maxLength: 64 }) }),
  fc.constantFrom(null, undefined, NaN, -1, 1e308, '', '\u0000', [], {}),
);
// socket.io-client refuses to emit its reserved names; everything else goes.
const RESERVED = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']);
const eventName = fc
  .oneof(
    fc.string({ maxLength: 40 }),
    fc.constantFrom('round:train', 'secagg:setup', 'secagg:collectMasked', 'secagg:unmask', 'run:end', 'auth:challenge', 'auth:accepted', '\u0000\u0001', 'x'.repeat(300)),
  )
  .filter((n) => !RESERVED.has(n));

/** A hostile client: proves its identity, then answers every request at random and floods random events. */
function fuzzer(url: string, id: string, seed: number, sent: { n: number }): Socket {
  const keys = identityKeyPair();
  const socket = io(url, {
    auth: { protocolVersion: PROTOCOL_VERSION, clientId: id, token: 'none', identityPk: Buffer.from(keys.publicKey).toString('hex') },
    reconnection: true,
    transports: ['websocket'],
  });
  (socket as Socket & { keys?: typeof keys }).keys = keys;
  const rnd = fc.sample(junk, { seed, numRuns: 400 });
  let k = 0;
  const next = (): unknown => rnd[k++ % rnd.length];
  socket.on('auth:challenge', (msg: { nonce: string }, ack: (r: unknown) => void) =>
    ack({ signature: Buffer.from(signProof(Uint8Array.from(Buffer.from(msg.nonce, 'hex')), id, keys)).toString('hex') }),
  );
  socket.on('round:train', (_req: unknown, ack: (r: unknown) => void) => {
    sent.n++;
    // Half the time a reply good enough to pass training, so the fuzzer reaches secure aggregation.
    ack(k++ % 2 === 0 ? pack({ ok: true, reply: { numExamples: 50, loss: 1 } }) : next());
  });
  for (const stage of STAGES) {
    socket.on(`secagg:${stage}`, (_req: unknown, ack: (r: unknown) => void) => {
      sent.n++;
      ack(k++ % 3 === 0 ? pack({ ok: true, reply: next() }) : next());
    });
  }
  // The flood starts once round 1 is over, so it falls inside the memory window (after the warm-up round).
  socket.once('round:end', () => {
    const names = fc.sample(eventName, { seed: seed + 1, numRuns: EVENTS_PER_FUZZER });
    let i = 0;
    const burst = (): void => {
      for (let j = 0; j < 200 && i < names.length; j++, i++) {
        socket.emit(names[i]! as never, next() as never);
        sent.n++;
      }
      if (i < names.length && socket.connected) setTimeout(burst, 5);
    };
    burst();
  });
  return socket;
}

/** One live-memory reading, with the rounds completed when it was taken. */
interface Reading {
  rounds: number;
  bytes: number;
}

/**
 * Live-memory growth against the first reading once round 1 is complete (warm, as the flood starts): `peak`,
 * the largest reading after it (what the flood costs while it lasts), and `settled`, the smallest reading once
 * the last round is complete (what stays). A coordinator patched to keep every unexpected event's payload
 * settled at +2.9 to +3.1 % and peaked at +4.3 to +4.8 % here; unpatched, settled was -1.6 to -0.1 % over 4 runs. NaN (a failing
 * comparison) where a reading is missing.
 */
function growth(readings: Reading[], rounds: number): { peak: number; settled: number } {
  const window = readings.filter((r) => r.rounds >= 1);
  const after = readings.filter((r) => r.rounds >= rounds);
  if (window.length === 0 || after.length === 0) return { peak: Number.NaN, settled: Number.NaN };
  const base = window[0]!.bytes;
  return { peak: Math.max(...window.map((r) => r.bytes)) / base - 1, settled: Math.min(...after.map((r) => r.bytes)) / base - 1 };
}

async function run(withFuzzers: boolean): Promise<{ weights: Float32Array; code: number | null; heapGrowth: { peak: number; settled: number }; sent: number; statuses: string[] }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rfl-fuzz-'));
  const runDir = path.join(dir, 'run');
  const clients = syntheticClients(HONEST, federated);
  const fuzzIds = Array.from({ length: FUZZERS }, (_, k) => `fuzz-${k}`);
  const port = await closedPort();
  const url = `http://127.0.0.1:${port}`;
  const sent = { n: 0 };
  // The fuzzers are enrolled too (their keys are made by them; the list is written after they exist).
  const fuzzSockets = withFuzzers ? fuzzIds.map((id, k) => fuzzer(url, id, 1000 + k, sent)) : [];
  const enrolled = new Map(clients.enrolment);
  for (const [k, s] of fuzzSockets.entries()) enrolled.set(fuzzIds[k]!, (s as Socket & { keys: { publicKey: Uint8Array } }).keys.publicKey);
  const enrolment = path.join(dir, 'enrolment.json');
  writeEnrolment(enrolment, enrolled);
  const config = path.join(dir, 'coordinator.json');
  // Everyone connected is in every cohort (fraction 1 of all clients), so the honest four always are.
  const everyone = HONEST + (withFuzzers ? FUZZERS : 0);
  writeFileSync(
    config,
    JSON.stringify({
      federated: { ...federated, numClients: everyone },
      dataset: 'synthetic',
      secure: true,
      minClients: everyone,
      timeoutsMs: { train: 20000, setup: 5000, shareKeys: 5000, collectMasked: 5000, consistency: 5000, unmask: 5000, reshare: 5000 },
    }),
  );
  const probe = path.resolve('dist/test/fixtures/heap-probe.js');
  const child: ChildProcess = spawn(
    process.execPath,
    ['--expose-gc', '--import', probe, path.resolve('dist/cli/rfl.js'), 'coordinator', '--config', config, '--enrolment', enrolment, '--port', String(port), '--run-dir', runDir],
    { env: { ...process.env, RFL_BACKEND: 'wasm' }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  // Live memory after a full collection, each reading tagged with the rounds completed when it was taken.
  let log = '';
  let pending = '';
  let rounds = 0;
  const readings: Reading[] = [];
  child.stderr!.on('data', (d: Buffer) => {
    pending += d.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      const m = /^heap-probe (\d+)$/.exec(line);
      if (m !== null) readings.push({ rounds, bytes: Number(m[1]) });
      else {
        log = (log + line + '\n').slice(-4000);
        if (/^round \d+: completed/.test(line)) rounds++;
      }
    }
  });
  clients.connect(url);
  try {
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    const lines = readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { status: string; abort?: unknown });
    const statuses = lines.map((l) => (l.abort !== undefined ? `${l.status} ${JSON.stringify(l.abort)}` : l.status));
    expect(code, log).to.equal(0);
    return { weights: readCheckpoint(path.join(runDir, 'checkpoint.bin')).weights, code, heapGrowth: growth(readings, federated.rounds), sent: sent.n, statuses };
  } finally {
    clients.close();
    for (const s of fuzzSockets) s.close();
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

describe('fuzzing a live coordinator', function () {
  this.timeout(240000);
  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
  });

  it('takes over 10,000 hostile messages without a crash, memory growth or a change to the honest aggregate', async () => {
    const clean = await run(false);
    const fuzzed = await run(true);
    expect(fuzzed.sent).to.be.greaterThan(10_000);
    expect(fuzzed.statuses).to.deep.equal(['completed', 'completed', 'completed']);
    const pct = (g: { peak: number; settled: number }): string =>
      Number.isNaN(g.settled) ? 'run too short to read' : `peak ${(100 * g.peak).toFixed(1)} %, settled ${(100 * g.settled).toFixed(1)} %`;
    if (process.env['RFL_FUZZ_LOG'] === '1') console.log(`live memory growth: clean ${pct(clean.heapGrowth)}; fuzzed ${pct(fuzzed.heapGrowth)}; messages ${fuzzed.sent}`);
    expect(fuzzed.heapGrowth.peak, 'live memory peak growth (NaN: no reading after round 1)').to.be.at.most(0.1);
    expect(fuzzed.heapGrowth.settled, 'live memory left after the last round (NaN: no reading)').to.be.at.most(0.02);
    expect(Buffer.from(fuzzed.weights.buffer).equals(Buffer.from(clean.weights.buffer))).to.equal(true);
  });
});
