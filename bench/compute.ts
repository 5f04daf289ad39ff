/**
 * `rfl bench compute [--out FILE] [--reps N] [--warmup N] [--backend NAME] [--batch N]`
 *
 * Median milliseconds (after warm-up) of the three operations everything else is built on, for `cnn-mnist`
 * on one thread: one SGD-with-momentum training step at batch 64, one FGSM input gradient of 64 images, and
 * inference on 1,000 images. Where PyTorch is importable, the same three on PyTorch (bench/torch_compute.py),
 * in the same invocation, and the ratios ours / PyTorch (lower is better; 1.0 = as fast as PyTorch). When the
 * backend is `native`, stock `wasm` is measured in the same process too (they share one heap), so the table
 * shows native, wasm and PyTorch side by side (`alongside` in the JSON).
 * On a GPU backend (webgpu, tfjs-node-gpu) it also measures the training step and FGSM at `--large` (default
 * 1,024; `large` in the JSON), and compares with PyTorch on CUDA where PyTorch sees a GPU.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../shared/compute/backend.js';
import { createModel } from '../shared/models/model.js';
import { sgdStepLoss, DEFAULT_TRAIN_OPTIONS } from '../shared/train/sgd.js';
import { Rng } from '../shared/util/random.js';
import { batchFromArrays } from '../shared/train/batches.js';
import { fgsm } from '../shared/attacks/pgd.js';
import { medianMsAsync } from './timing.js';
import { intFlag } from '../shared/util/flags.js';
import { runTorch } from './torch-runner.js';

interface Figures {
  trainStepMs: number;
  fgsmMs: number;
  infer1000Ms: number;
}

/** The options, in node:util parseArgs form; `rfl` gives each its help text (cli/commands/). */
export const OPTIONS = {
  out: { type: 'string', default: 'runs/bench-compute.json' },
  reps: { type: 'string', default: '30' },
  warmup: { type: 'string', default: '5' },
  batch: { type: 'string', default: '64' },
  backend: { type: 'string' },
  large: { type: 'string' },
} satisfies ParseArgsOptionsConfig;

/** Runs the command; `argv` is its arguments (without node and the script). */
export async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({ args: [...argv], options: OPTIONS });
  const reps = intFlag('reps', values.reps, 20);
  const warmup = intFlag('warmup', values.warmup, 0);
  const batch = intFlag('batch', values.batch, 1);

  const choice = await initBackend({ gpu: true, ...(values.backend !== undefined ? { backend: values.backend as BackendName } : {}) });
  const gpu = choice.name === 'webgpu' || choice.name === 'tfjs-node-gpu';
  const large = values.large !== undefined ? intFlag('large', values.large, 1) : gpu ? 1024 : undefined;

  function randomImages(n: number, seed: number): Float32Array {
    const rng = new Rng(seed);
    return Float32Array.from({ length: n * 784 }, () => rng.float());
  }
  const shape = { height: 28, width: 28, channels: 1, numClasses: 10 };
  /** The three figures (and the large batch's) on the backend active now, with a fresh model. */
  async function measure(): Promise<{ ours: Figures; oursLarge: Pick<Figures, 'trainStepMs' | 'fgsmMs'> | undefined }> {
    const model = createModel('cnn-mnist', 1);
    const velocity = model.params.map((p) => tf.zerosLike(p));
    const big = batchFromArrays(
      randomImages(1000, 2),
      Uint8Array.from({ length: 1000 }, (_, i) => i % 10),
      shape,
    );
    let step = 0;
    /**
     * Waits for `t`: on a CPU backend by reading it; on a GPU by reading back one number that depends on all of it
     * (a sum), which finishes the work without timing a 3 MB copy to the host — PyTorch's side only calls
     * torch.cuda.synchronize(). Reads are asynchronous: WebGPU in Node has no synchronous read.
     */
    async function finish(t: tf.Tensor): Promise<void> {
      if (!gpu) {
        await t.data();
        return;
      }
      const s = tf.sum(t);
      await s.data();
      s.dispose();
    }

    /** Training step and FGSM at batch `n`, each waited for (`finish`). */
    async function stepFigures(n: number): Promise<Pick<Figures, 'trainStepMs' | 'fgsmMs'>> {
      const lbl = Uint8Array.from({ length: n }, (_, i) => (i * 7) % 10);
      const bb = batchFromArrays(randomImages(n, 1), lbl, shape);
      try {
        return {
          trainStepMs: await medianMsAsync(
            async () => {
              const loss = sgdStepLoss(model, bb, velocity, DEFAULT_TRAIN_OPTIONS, step++);
              await finish(loss);
              loss.dispose();
            },
            reps,
            warmup,
          ),
          fgsmMs: await medianMsAsync(
            async () => {
              const adv = fgsm(model, bb.x, bb.y, 0.3);
              await finish(adv);
              adv.dispose();
            },
            reps,
            warmup,
          ),
        };
      } finally {
        bb.x.dispose();
        bb.y.dispose();
      }
    }

    const ours: Figures = {
      ...(await stepFigures(batch)),
      infer1000Ms: await medianMsAsync(
        async () => {
          const pred = tf.tidy(() => tf.argMax(model.predictLogits(big.x), 1));
          await finish(pred);
          pred.dispose();
        },
        reps,
        warmup,
      ),
    };
    const oursLarge = large !== undefined ? await stepFigures(large) : undefined;
    for (const t of [...velocity, big.x, big.y]) t.dispose();
    model.dispose();
    return { ours, oursLarge };
  }

  const { ours, oursLarge } = await measure();
  // native runs over tfjs-wasm's heap: stock wasm is one setBackend away, so it is measured in the same run.
  let alongside: { backend: string; figures: Figures } | undefined;
  if (choice.name === 'native') {
    await tf.setBackend('wasm');
    alongside = { backend: 'wasm', figures: (await measure()).ours };
    await tf.setBackend(choice.tfName);
  }

  const here = path.dirname(fileURLToPath(import.meta.url));
  const script = path.resolve(here, '../../bench/torch_compute.py');
  type TorchFigures = Figures & { version: string; threads: number; device: string };
  // On a GPU backend the fair comparison is PyTorch on CUDA; fall back to its CPU (one thread) when it has none.
  let torch = gpu ? runTorch<TorchFigures>(script, { reps, warmup, batch, inferCount: 1000, device: 'cuda' }) : undefined;
  if (torch === undefined || !torch.ok) torch = runTorch<TorchFigures>(script, { reps, warmup, batch, inferCount: 1000, threads: 1 });
  const torchLarge = large !== undefined && torch.ok ? runTorch<TorchFigures>(script, { reps, warmup, batch: large, inferCount: 1000, device: torch.result.device, threads: 1 }) : undefined;
  const ratio = (a: number, t: number): number => Math.round((a / t) * 1000) / 1000;
  const result = {
    backend: choice.name,
    adapter: choice.adapter ?? null,
    backendReason: choice.reason,
    model: 'cnn-mnist',
    batch,
    reps,
    warmup,
    threads: 1,
    ...ours,
    torch: torch.ok
      ? {
          version: torch.result.version,
          device: torch.result.device,
          threads: torch.result.threads,
          trainStepMs: torch.result.trainStepMs,
          fgsmMs: torch.result.fgsmMs,
          infer1000Ms: torch.result.infer1000Ms,
        }
      : null,
    torchUnavailable: torch.ok ? undefined : torch.reason,
    ratios: torch.ok
      ? { trainStep: ratio(ours.trainStepMs, torch.result.trainStepMs), fgsm: ratio(ours.fgsmMs, torch.result.fgsmMs), infer1000: ratio(ours.infer1000Ms, torch.result.infer1000Ms) }
      : null,
    alongside:
      alongside !== undefined
        ? {
            backend: alongside.backend,
            ...alongside.figures,
            ratios: torch.ok
              ? {
                  trainStep: ratio(alongside.figures.trainStepMs, torch.result.trainStepMs),
                  fgsm: ratio(alongside.figures.fgsmMs, torch.result.fgsmMs),
                  infer1000: ratio(alongside.figures.infer1000Ms, torch.result.infer1000Ms),
                }
              : null,
          }
        : undefined,
    large:
      oursLarge !== undefined
        ? {
            batch: large,
            ...oursLarge,
            torch: torchLarge?.ok === true ? { trainStepMs: torchLarge.result.trainStepMs, fgsmMs: torchLarge.result.fgsmMs } : null,
            ratios: torchLarge?.ok === true ? { trainStep: ratio(oursLarge.trainStepMs, torchLarge.result.trainStepMs), fgsm: ratio(oursLarge.fgsmMs, torchLarge.result.fgsmMs) } : null,
          }
        : undefined,
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version, tfjs: tf.version.tfjs, isa: choice.name === 'native' ? (choice.adapter ?? null) : null },
    date: new Date().toISOString(),
  };

  const fmt = (v: number): string => v.toFixed(2).padStart(8);
  console.log(`cnn-mnist, batch ${batch}, 1 thread, median of ${reps} after ${warmup} warm-up (ms)`);
  const side = alongside !== undefined ? `  ${alongside.backend.padStart(8)}   ratio` : '';
  console.log(`operation        ${choice.name.padStart(8)}  ${(torch.ok ? `pytorch-${torch.result.device}` : 'pytorch').padStart(8)}   ratio${side}`);
  for (const [k, label] of [
    ['trainStepMs', 'train step'],
    ['fgsmMs', 'FGSM grad'],
    ['infer1000Ms', 'infer 1000'],
  ] as const) {
    const t = result.torch?.[k];
    const a = alongside?.figures[k];
    const aside = a !== undefined ? `  ${fmt(a)}   ${t !== undefined ? (a / t).toFixed(2) + '×' : '-'}` : '';
    console.log(`${label.padEnd(15)} ${fmt(ours[k])}  ${t !== undefined ? fmt(t) : '       -'}   ${t !== undefined ? (ours[k] / t).toFixed(2) + '×' : '-'}${aside}`);
  }
  if (oursLarge !== undefined) {
    const tl = torchLarge?.ok === true ? torchLarge.result : undefined;
    for (const [k, label] of [
      ['trainStepMs', `train ${large}`],
      ['fgsmMs', `FGSM ${large}`],
    ] as const) {
      console.log(`${label.padEnd(15)} ${fmt(oursLarge[k])}  ${tl !== undefined ? fmt(tl[k]) : '       -'}   ${tl !== undefined ? (oursLarge[k] / tl[k]).toFixed(2) + '×' : '-'}`);
    }
  }
  if (!torch.ok) console.log(`PyTorch: ${torch.reason}`);
  mkdirSync(path.dirname(path.resolve(values.out!)), { recursive: true });
  writeFileSync(values.out!, JSON.stringify(result, null, 2) + '\n');
  console.log(`wrote ${values.out}`);
}
