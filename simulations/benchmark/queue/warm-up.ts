/**
 * A queue worker's warm-up: before it takes its first cell, its sandbox thread runs one tiny simulation (synthetic
 * data, cnn-mnist, two clients, one round, secure aggregation) with the thread count and backend its cells will use.
 * That starts the compute backend, compiles the hot paths (training, masking, evaluation) and leaves a warm pool of
 * simulation threads in the pool cache (simulations/pool/pool.ts), which the first cell of the same thread count
 * and backend takes. Without it the first cell a worker runs pays all of this, a second or two on a small machine.
 * Nothing of the warm-up reaches a cell: its files go to a temporary folder that is removed, and the pool's workers
 * leave its simulation before they wait in the cache.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../../shared/compute/backend.js';
import { makeSyntheticDataset } from '../../../shared/data/synthetic.js';
import { runSimulation } from '../../engine.js';
import { resolveScenario } from '../../scenario.js';
import type { CellProcessorSettings } from './cell-processor.js';

/** Runs the warm-up simulation; resolves with its wall time in milliseconds. */
export async function warmUpCellThread(s: CellProcessorSettings): Promise<number> {
  const t0 = performance.now();
  await initBackend({ quiet: true, ...(s.backend !== undefined ? { backend: s.backend } : {}) });
  const scenario = resolveScenario({
    name: 'worker-warm-up',
    dataset: 'synthetic',
    model: 'cnn-mnist',
    method: 'fedavg',
    numClients: 2,
    fraction: 1,
    rounds: 1,
    localEpochs: 1,
    batchSize: 32,
    lr: 0.01,
    sharedSetSize: 8,
    secure: true,
    evalEvery: 1,
    evalAttacks: ['clean'],
    finalAttacks: ['clean'],
    seed: 1,
  });
  const data = makeSyntheticDataset({ count: 72, testCount: 16, seed: 1 });
  const dir = mkdtempSync(path.join(s.scratch ?? os.tmpdir(), 'rfl-warm-up-'));
  try {
    await runSimulation({
      scenario,
      runDir: path.join(dir, 'run'),
      data,
      ...(s.workers !== undefined ? { workers: s.workers } : {}),
      ...(s.backend !== undefined ? { backend: s.backend } : {}),
      log: () => undefined,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return performance.now() - t0;
}
