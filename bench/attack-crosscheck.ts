/**
 * `rfl bench attack-crosscheck [--epochs N] [--count N] [--eps X] [--random-start] [--seed N] [--python PATH] [--out FILE]`
 *
 * Cross-checks the project's PGD and APGD-CE against an independent PyTorch implementation
 * (bench/python/attack_crosscheck.py) on the same model and images: trains `cnn-mnist` in TF.js on the embedded
 * digits' training split, writes its weights and the first `--count` test images to a folder, runs PGD-20
 * (α = ε/30: the `pgd-20` preset scaled to ε) and APGD-CE (100 iterations, the paper's schedule) on both sides,
 * and prints both robust accuracies and whether they agree within 1 point. By default both attacks start at x, so
 * the two sides run the same deterministic algorithm and differ only by floating point; `--random-start` draws the
 * starts (each side its own generator). Skips the PyTorch side, with the reason, when no Python can import torch.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../shared/compute/backend.js';
import { loadDataset } from '../shared/data/index.js';
import { createModel } from '../shared/models/model.js';
import { trainLocal } from '../shared/train/sgd.js';
import { accuracy, predictClasses } from '../shared/train/evaluate.js';
import { disposeBatch, gatherBatch, range } from '../shared/train/batches.js';
import { pgd } from '../shared/attacks/pgd.js';
import { apgd, APGD_DEFAULTS } from '../shared/attacks/apgd.js';
import { attackAt } from '../shared/attacks/spec.js';
import { intFlag } from '../shared/util/flags.js';
import { runTorch } from './torch-runner.js';

/** The options, in node:util parseArgs form; `rfl` gives each its help text (cli/commands/). */
export const OPTIONS = {
  epochs: { type: 'string', default: '3' },
  count: { type: 'string', default: '500' },
  eps: { type: 'string', default: '0.1' },
  'random-start': { type: 'boolean', default: false },
  seed: { type: 'string', default: '1' },
  python: { type: 'string', default: '/usr/bin/python3' },
  backend: { type: 'string' },
  out: { type: 'string', default: 'docs/benchmarks/attack-crosscheck/attack-crosscheck.json' },
} satisfies ParseArgsOptionsConfig;

interface TorchSide {
  version: string;
  threads: number;
  count: number;
  clean: number;
  pgd: number;
  apgdCe: number;
  pgdRobust: number[];
  apgdRobust: number[];
}

/** Runs the command; `argv` is its arguments (without node and the script). */
export async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({ args: [...argv], options: OPTIONS });
  const choice = await initBackend({ quiet: true, ...(values.backend !== undefined ? { backend: values.backend as BackendName } : {}) });
  const epochs = intFlag('epochs', values.epochs, 0);
  const seed = intFlag('seed', values.seed, 0);
  const eps = Number(values.eps);
  if (!(eps > 0 && eps <= 1)) throw new Error(`--eps = ${values.eps}; expected a number in (0, 1]`);
  const randomStart = values['random-start'] === true;
  const { train, test } = loadDataset('mnist-embedded');
  const count = Math.min(intFlag('count', values.count, 1), test.count);

  const t0 = performance.now();
  const model = createModel('cnn-mnist', seed);
  trainLocal(model, train, range(train.count), { epochs, batchSize: 64, lr: 0.01, momentum: 0.9, seed });
  const trainMs = performance.now() - t0;
  const pgdSpec = attackAt('pgd-20', eps);
  if (pgdSpec.kind !== 'pgd') throw new Error('pgd-20 preset');
  const apgdSpec = { eps, steps: 100, loss: 'ce' as const, randomStart, rho: APGD_DEFAULTS.rho, momentum: APGD_DEFAULTS.momentum, initialStep: APGD_DEFAULTS.initialStep, seed };

  // The TF.js side, in batches of 500 as evaluations run.
  const t1 = performance.now();
  const idx = range(count);
  const pgdRobust: number[] = [];
  const apgdRobust: number[] = [];
  for (let s = 0; s < count; s += 500) {
    const b = gatherBatch(test, idx, s, Math.min(s + 500, count));
    try {
      const p = pgd(model, b.x, b.y, { eps, alpha: pgdSpec.alpha, steps: pgdSpec.steps, randomStart, seed: seed + s });
      const pred = predictClasses(model, p);
      p.dispose();
      pred.forEach((c, i) => pgdRobust.push(c === b.labels[i] ? 1 : 0));
      const a = apgd(model, b.x, b.labels, { ...apgdSpec, seed: seed + s });
      a.adv.dispose();
      a.fooled.forEach((f) => apgdRobust.push(1 - f));
    } finally {
      disposeBatch(b);
    }
  }
  const tfMs = performance.now() - t1;
  const mean = (a: number[]): number => a.reduce((x, y) => x + y, 0) / a.length;
  const ours = { clean: accuracy(model, test, idx), pgd: mean(pgdRobust), apgdCe: mean(apgdRobust) };

  // The files the PyTorch side reads.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rfl-crosscheck-'));
  const flat = model.getWeights();
  writeFileSync(path.join(dir, 'weights.f32'), new Uint8Array(flat.buffer, flat.byteOffset, flat.byteLength));
  writeFileSync(
    path.join(dir, 'layout.json'),
    JSON.stringify({ inputShape: [test.height, test.width, test.channels], params: model.spec.layout.map((e) => ({ name: e.name, shape: e.shape, offset: e.offset, size: e.size })) }),
  );
  const d = test.height * test.width * test.channels;
  const imgs = test.images.slice(0, count * d);
  writeFileSync(path.join(dir, 'images.f32'), new Uint8Array(imgs.buffer, imgs.byteOffset, imgs.byteLength));
  writeFileSync(path.join(dir, 'labels.u8'), test.labels.slice(0, count));
  model.dispose();

  const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/python/attack_crosscheck.py');
  const t2 = performance.now();
  const torch = runTorch<TorchSide>(
    script,
    {
      dir,
      eps,
      pgd: { alpha: pgdSpec.alpha, steps: pgdSpec.steps },
      apgd: { steps: apgdSpec.steps, rho: apgdSpec.rho, momentum: apgdSpec.momentum, initialStep: apgdSpec.initialStep },
      randomStart,
      seed,
      threads: 1,
    },
    values.python,
  );
  const torchMs = performance.now() - t2;
  rmSync(dir, { recursive: true, force: true });

  const pt = (x: number): string => `${(100 * x).toFixed(2)} %`;
  console.log(`cnn-mnist trained ${epochs} epoch(s) on ${train.count} embedded digits (seed ${seed}), ${count} test images, ε = ${eps}, start ${randomStart ? 'random' : 'at x'}`);
  console.log(`TF.js (${choice.name}, tfjs ${tf.version.tfjs}): clean ${pt(ours.clean)}, PGD-20 (α = ${pgdSpec.alpha.toPrecision(4)}) ${pt(ours.pgd)}, APGD-CE (100 it.) ${pt(ours.apgdCe)}`);
  let comparison: Record<string, unknown> | null = null;
  if (!torch.ok) console.log(`PyTorch side skipped: ${torch.reason}`);
  else {
    const r = torch.result;
    const same = (a: number[], b: number[]): number => a.filter((v, i) => v === b[i]).length / a.length;
    const diffPgd = 100 * (ours.pgd - r.pgd);
    const diffApgd = 100 * (ours.apgdCe - r.apgdCe);
    comparison = {
      pgdPoints: diffPgd,
      apgdCePoints: diffApgd,
      agreeWithin1Point: Math.abs(diffPgd) <= 1 && Math.abs(diffApgd) <= 1,
      pgdSameVerdict: same(pgdRobust, r.pgdRobust),
      apgdCeSameVerdict: same(apgdRobust, r.apgdRobust),
    };
    console.log(`PyTorch ${r.version} (${torch.python}): clean ${pt(r.clean)}, PGD-20 ${pt(r.pgd)}, APGD-CE ${pt(r.apgdCe)}`);
    const points = (x: number): string => (Math.abs(x) < 0.005 ? '0.00' : x.toFixed(2));
    console.log(
      `difference (TF.js − PyTorch): PGD-20 ${points(diffPgd)} points, APGD-CE ${points(diffApgd)} points; same per-example verdict on ${pt(comparison['pgdSameVerdict'] as number)} and ${pt(comparison['apgdCeSameVerdict'] as number)} of the images`,
    );
    console.log(comparison['agreeWithin1Point'] ? 'AGREE within 1 point' : 'DISAGREE by more than 1 point');
  }
  const result = {
    date: new Date().toISOString(),
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version, tfjs: tf.version.tfjs, backend: choice.name },
    setup: {
      model: 'cnn-mnist',
      dataset: 'mnist-embedded',
      trainExamples: train.count,
      epochs,
      seed,
      testImages: count,
      eps,
      randomStart,
      pgd: { steps: pgdSpec.steps, alpha: pgdSpec.alpha },
      apgdCe: { steps: apgdSpec.steps, rho: apgdSpec.rho, momentum: apgdSpec.momentum, initialStep: `${apgdSpec.initialStep}·ε` },
    },
    tfjs: { ...ours, ms: { train: trainMs, attacks: tfMs } },
    torch: torch.ok
      ? { python: torch.python, version: torch.result.version, threads: torch.result.threads, clean: torch.result.clean, pgd: torch.result.pgd, apgdCe: torch.result.apgdCe, ms: torchMs }
      : null,
    torchSkipped: torch.ok ? null : torch.reason,
    comparison,
  };
  if (values.out !== undefined) {
    mkdirSync(path.dirname(values.out), { recursive: true });
    writeFileSync(values.out, JSON.stringify(result, null, 2) + '\n');
    console.log(`wrote ${values.out}`);
  }
}
