/**
 * A benchmark cell stopped between rounds continues from its checkpoint (simulations/engine.ts `resumableRun`):
 * a real process runs a matrix and is SIGKILLed when its cell completes round 2; the matrix is then run again,
 * and the cell ends exactly as an uninterrupted run of it: the same final weights bit for bit, the same
 * per-round losses and evaluations, the same final accuracies, with `parts: 2` and both parts' wall time.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../shared/compute/backend.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { parseMatrix } from '../simulations/benchmark/matrix.js';
import { runMatrix } from '../simulations/benchmark/run.js';
import { resumableRun } from '../simulations/engine.js';
import { readCheckpoint } from '../server/run-store.js';
import { CELL_RESUME_DATA } from './helpers/cell-resume-data.js';

// Secure aggregation and Decent_BVA's shared set, which the checkpoint must carry into the resumed part.
const matrix = {
  name: 'resume',
  base: {
    dataset: 'synthetic',
    model: 'linear',
    numClients: 4,
    fraction: 1,
    rounds: 4,
    localEpochs: 1,
    batchSize: 32,
    lr: 0.1,
    sharedSetSize: 8,
    evalEvery: 2,
    evalAttacks: ['clean'],
    finalAttacks: ['clean', 'fgsm'],
    workers: 1,
  },
  defenses: [{ name: 'fed-bva', method: 'fed-bva', secure: true }],
  threats: [{ name: 'none' }],
  seeds: [3],
};
const CELL = 'fed-bva__none__f0__s3';

interface Results {
  final: { accuracy: Record<string, number> };
  parts?: number;
  wallMs: number;
  completedRounds: number;
}
const results = (out: string): Results => JSON.parse(readFileSync(path.join(out, 'cells', CELL, 'results.json'), 'utf8')) as Results;
const rounds = (out: string): { round: number; trainLoss?: number; eval?: Record<string, number> }[] =>
  readFileSync(path.join(out, 'cells', CELL, 'rounds.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { round: number; trainLoss?: number; eval?: Record<string, number> });

describe('a benchmark cell stopped between rounds resumes from its checkpoint', function () {
  this.timeout(240000);
  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
  });

  it('killed after round 2 of 4, then resumed: bit-identical to an uninterrupted run', async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'rfl-resume-'));
    const datasets = new Map([['synthetic', makeSyntheticDataset(CELL_RESUME_DATA)]]);
    const whole = path.join(tmp, 'whole');
    await runMatrix(parseMatrix(matrix), { out: whole, datasets, log: () => undefined });

    const parts = path.join(tmp, 'parts');
    const child = spawn(process.execPath, [fileURLToPath(new URL('./fixtures/matrix-killed.js', import.meta.url)), parts, JSON.stringify(matrix), '2'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const signal = await new Promise<string | null>((resolve) => child.once('exit', (_code, sig) => resolve(sig)));
    expect(signal, stderr.slice(-400)).to.equal('SIGKILL');
    const dir = path.join(parts, 'cells', CELL);
    expect(readCheckpoint(path.join(dir, 'checkpoint.bin')).round).to.equal(2);
    expect(resumableRun(dir)).to.equal(true);

    const again = await runMatrix(parseMatrix(matrix), { out: parts, datasets, log: () => undefined });
    expect(again.ran).to.deep.equal([CELL]);
    const a = readCheckpoint(path.join(whole, 'cells', CELL, 'checkpoint.bin'));
    const b = readCheckpoint(path.join(dir, 'checkpoint.bin'));
    expect(b.round).to.equal(4);
    expect(Buffer.from(b.weights.buffer, b.weights.byteOffset, b.weights.byteLength).equals(Buffer.from(a.weights.buffer, a.weights.byteOffset, a.weights.byteLength))).to.equal(true);
    const strip = (rs: ReturnType<typeof rounds>): unknown[] => rs.map((r) => [r.round, r.trainLoss, r.eval]);
    expect(strip(rounds(parts))).to.deep.equal(strip(rounds(whole)));
    expect(results(parts).final.accuracy).to.deep.equal(results(whole).final.accuracy);
    expect(results(parts).completedRounds).to.equal(4);
    expect(results(parts).parts).to.equal(2);
    expect(results(whole).parts).to.equal(undefined);
  });

  it('a directory stopped before its first round ended, or holding results, is not resumable', () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'rfl-resume-'));
    expect(resumableRun(tmp)).to.equal(false);
    expect(resumableRun(path.join(tmp, 'absent'))).to.equal(false);
  });
});
