/**
 * `node dist/simulations/pool/gpu-check.js`: a small simulation (synthetic data, 6 clients, secure fed-bva,
 * 2 rounds) whose evaluations must run on the GPU evaluation worker, for a machine with a GPU. Prints where the
 * evaluations ran and the result as one JSON line. (It sits beside the pool so a bundle keeps `./worker.js`
 * next to it.)
 */
import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../shared/compute/backend.js';
import { makeSyntheticDataset } from '../../shared/data/synthetic.js';
import { resolveScenario } from '../scenario.js';
import { runSimulation } from '../engine.js';

await initBackend({ backend: 'wasm', quiet: true });
const data = makeSyntheticDataset({ count: 600, testCount: 2000, seed: 4 });
const scenario = resolveScenario({
  dataset: 'synthetic',
  method: 'fed-bva',
  numClients: 6,
  fraction: 1,
  rounds: 2,
  localEpochs: 1,
  batchSize: 32,
  sharedSetSize: 8,
  evalEvery: 1,
  evalAttacks: ['clean', 'fgsm', 'pgd-20'],
  finalAttacks: ['clean', 'fgsm', 'pgd-20', 'pgd-strong'],
  seed: 3,
  workers: 2,
});
const t0 = performance.now();
const r = await runSimulation({ scenario, runDir: path.join(mkdtempSync(path.join(os.tmpdir(), 'rfl-gpu-')), 'run'), data, backend: 'wasm', log: () => undefined });
console.log(JSON.stringify({ evalDevice: r.evalDevice, gpuFallback: r.gpuFallback ?? null, final: r.final, evalMsPerRound: r.timing.evalMs, wallMs: performance.now() - t0 }));
