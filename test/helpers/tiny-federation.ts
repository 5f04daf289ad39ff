/**
 * The small plaintext federation several simulation tests start from: six clients training softmax regression
 * on a seeded synthetic dataset, one round, clean evaluation only. Tests spread it and override what they test.
 */
import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeSyntheticDataset } from '../../shared/data/synthetic.js';

/** The dataset the scenario's `dataset: 'synthetic'` resolves to in these tests. */
export const tinyData = makeSyntheticDataset({ count: 360, testCount: 60, seed: 4 });
/** The scenario seed. */
export const TINY_SEED = 11;
/** Number of clients. */
export const TINY_CLIENTS = 6;

/** The scenario fields (a plain object for resolveScenario). */
export const tinyScenario = {
  dataset: 'synthetic',
  model: 'linear',
  method: 'fedavg',
  secure: false,
  numClients: TINY_CLIENTS,
  fraction: 1,
  rounds: 1,
  localEpochs: 1,
  batchSize: 32,
  lr: 0.05,
  sharedSetSize: 8,
  evalEvery: 1,
  evalAttacks: ['clean'],
  finalAttacks: ['clean'],
  seed: TINY_SEED,
  workers: 1,
};

/**
 * The matrix and queue tests' base: 3 linear clients, lr 0.1, no method (a matrix's defence sets it), seed left to
 * the matrix; one round of clean evaluation on one pool thread.
 */
export const TINY_LINEAR_SCENARIO = {
  dataset: 'synthetic',
  model: 'linear',
  numClients: 3,
  fraction: 1,
  rounds: 1,
  localEpochs: 1,
  batchSize: 32,
  lr: 0.1,
  sharedSetSize: 8,
  evalEvery: 1,
  evalAttacks: ['clean'],
  finalAttacks: ['clean'],
  workers: 1,
};

/** A fresh run directory under the OS temp folder. */
export const tinyRunDir = (prefix: string): string => path.join(mkdtempSync(path.join(os.tmpdir(), `rfl-${prefix}-`)), 'run');
