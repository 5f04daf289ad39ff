/**
 * Lockstep local training: K clients of a federated round train together, one set of tensor operations per step for
 * all of them, instead of one client after another. On a GPU the cost of a step of a small model is the number of
 * dispatches, not the arithmetic, so K clients in lockstep cost about what one costs.
 *
 * How K models become one computation (layer models of `shared/models/layers.ts`; the operations are in
 * lockstep-ops.ts):
 * - the examples of a step are stacked client-major: [K·R, H, W, C] before the flatten (client k owns rows
 *   k·R … k·R + R − 1) and [K, R, features] after it, so pooling, ReLU and dropout masks act on the stack as on
 *   one big batch;
 * - every parameter is stacked along a new leading client axis: a conv layer's filter and bias become one
 *   [K, kh·kw·cin + 1, cout] tensor (the bias as the last row), a dense kernel [in, out] becomes [K, in, out], its
 *   bias [K, out];
 * - a convolution of every client at once is im2col and one batched matrix product per client; a dense layer is a
 *   batched matrix product;
 * - the loss is Σ_k loss_k. Clients share no parameter, so the gradient of the sum with respect to client k's slice
 *   of the stacked parameters is the gradient of loss_k alone.
 * On webgpu the steps use the project's kernels: im2col / col2im and per-client sums (lockstep-kernels.ts), the
 * conv epilogue (bias folded, channel dropout, pool, ReLU), the segmented cross-entropy (each row's weight carried in
 * its label row) and the momentum update in place (shared/compute/webgpu/).
 *
 * Each client keeps what makes its training its own: its data and epoch shuffles (the seeds of `trainLocal`), its
 * dropout masks (the same seeded draws as `forward`), its momentum buffers, and its number of steps. A step has
 * the same shape for every client (the minibatch, then the shared set, padded to batchSize + n_s rows): padded rows
 * have weight 0, and a client with fewer steps than the others is masked out of the update, never truncated: its
 * rows weigh 0, so its gradient is exactly 0, and its momentum is zeroed when its steps end, so its weights stay.
 * The result equals K calls of `trainLocal` up to float rounding (test/lockstep.test.ts checks 1e-4 against
 * separate trainings on wasm). With EAT, FGSM's sign(∇) can turn a rounding difference in a near-zero gradient into
 * a 2ε pixel change, so there the comparison is against `trainLocal` on the same backend.
 *
 * Nothing is read back synchronously, so the trainer runs on WebGPU (whose tensors Node can only read with
 * `await data()`): the per-client losses accumulate on the device and are read once, at the end.
 *
 * Scope: local SGD with momentum and the shared-set term (FedAvg, FedAvg+DS, FedAvg-AT, Fed_Bias, Fed_Variance,
 * Fed_BVA's client training), and EAT's FGSM adversarial training as the default profile crafts it (EAT,
 * EAT+Fed_BVA): the adversarial minibatch is crafted for all K clients in one input-gradient pass and joins each
 * client's rows. PGD-AT, TRADES, the reference profile's crafting (dropout on, clipping to the minibatch's range)
 * and function models are not covered; those clients train one by one with `trainLocal`.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelSpec } from '../models/model.js';
import { dropoutMaskValues, type Activation, type LayerSpec } from '../models/layers.js';
import { convEpilogue, fusedEpiloguesAvailable } from '../compute/webgpu/epilogues.js';
import { fusedCrossEntropyAvailable, segmentedCrossEntropy } from '../compute/webgpu/cross-entropy.js';
import { sgdMomentumInPlace } from '../compute/webgpu/sgd.js';
import { webgpuInternals } from '../compute/webgpu/internals.js';
import { attackStep } from '../compute/webgpu/attack-step.js';
import { range, type ImageSource } from './batches.js';
import { epochOrder, type TrainResult } from './sgd.js';
import { groupedBias, groupedConv } from './lockstep-ops.js';

/** One client of a lockstep group. */
export interface LockstepClient {
  /** The client's examples: rows `indices` of `data`. Clients may hold different numbers of examples. */
  data: ImageSource;
  indices: ArrayLike<number>;
  /** Seed of its epoch shuffles and dropout masks (as `TrainOptions.seed`). */
  seed: number;
  /** Its starting weights (flat, the model's layout); usually the round's global model, the same for every client. */
  weights: Float32Array;
}

/** What every client of the group shares; units and ranges as in `TrainOptions`. */
export interface LockstepOptions {
  /** Passes over each client's data (≥ 1). */
  epochs: number;
  /** Examples per minibatch (≥ 1). */
  batchSize: number;
  /** Learning rate (> 0). */
  lr: number;
  /** Momentum μ in [0, 1). */
  momentum: number;
  /** The round's shared set and its weight β in every client's loss (the same set for all, as the coordinator sends it). */
  sharedSet?: { x: Float32Array; labels: Uint8Array; weight: number };
  /**
   * EAT's local adversarial training (`LocalAdversarialSpec` attack 'fgsm', loss 'clean+adv', crafted with dropout
   * off and clipped to [0, 1]: the default profile): each step adds CE(x_adv) with x_adv = clip(x + ε·sign(∇ₓ CE(x)),
   * 0, 1) crafted from the client's weights before the step. ε in pixel units, [0, 1].
   */
  adversarial?: { eps: number };
}

/** Whether lockstep training covers a client's local adversarial training (`LockstepOptions.adversarial`). */
export function lockstepCoversAdversarial(a: { attack: string; loss: string; craftMode?: string; clip?: string }): boolean {
  return a.attack === 'fgsm' && a.loss === 'clean+adv' && (a.craftMode ?? 'eval') === 'eval' && (a.clip ?? 'unit') === 'unit';
}

/** The outcome for each client, in the order given. */
export interface LockstepResult {
  weights: Float32Array[];
  results: TrainResult[];
  /** Lockstep steps run (the most steps of any client). */
  steps: number;
}

/** The layer kinds the lockstep forward pass covers. */
const SUPPORTED = new Set<LayerSpec['kind']>(['conv', 'maxpool', 'relu', 'tanh', 'flatten', 'dense', 'dropout', 'channel-dropout']);

/** Throws, saying why, where `spec` cannot train in lockstep. */
export function checkLockstepModel(spec: ModelSpec): void {
  if (spec.layers.length === 0) throw new Error(`lockstep training: model "${spec.name}" is a function model; only layer models train in lockstep (it trains client by client instead)`);
  let flat = false;
  for (const l of spec.layers) {
    if (!SUPPORTED.has(l.kind)) throw new Error(`lockstep training: model "${spec.name}" has a ${l.kind} layer, which lockstep training does not cover`);
    if (l.kind === 'flatten') flat = true;
    if ((l.kind === 'dense' || l.kind === 'dropout') && !flat) throw new Error(`lockstep training: model "${spec.name}" has a ${l.kind} layer before its flatten layer`);
    if ((l.kind === 'conv' || l.kind === 'maxpool' || l.kind === 'channel-dropout') && flat) throw new Error(`lockstep training: model "${spec.name}" has a ${l.kind} layer after its flatten layer`);
  }
  if (!flat) throw new Error(`lockstep training: model "${spec.name}" has no flatten layer`);
}

/**
 * How the model's parameters (its `layout`, in layer order) are stacked: a conv layer's filter and bias become one
 * [K, kh·kw·cin + 1, cout] tensor, every other parameter its own [K, …shape] tensor.
 */
interface StackedParam {
  /** Indices into the model's layout: [filter, bias] for a conv layer, [parameter] otherwise. */
  layout: number[];
  /** The stacked tensor's shape without the client axis. */
  shape: number[];
}

function stackPlan(spec: ModelSpec): StackedParam[] {
  const plan: StackedParam[] = [];
  let p = 0;
  for (const l of spec.layers) {
    if (l.kind === 'conv') {
      const [kh, kw, cin, cout] = spec.layout[p]!.shape as [number, number, number, number];
      plan.push({ layout: [p, p + 1], shape: [kh * kw * cin + 1, cout] });
      p += 2;
    } else if (l.kind === 'dense') {
      plan.push({ layout: [p], shape: spec.layout[p]!.shape }, { layout: [p + 1], shape: spec.layout[p + 1]!.shape });
      p += 2;
    }
  }
  return plan;
}

/** The K clients' weights (flat, the model's layout) as the stacked values of `plan`. */
function stackWeights(spec: ModelSpec, plan: readonly StackedParam[], weights: readonly Float32Array[]): Float32Array[] {
  return plan.map((sp) => {
    const size = sp.shape.reduce((a, d) => a * d, 1);
    const v = new Float32Array(weights.length * size);
    weights.forEach((w, k) => {
      let at = k * size;
      for (const i of sp.layout) {
        const e = spec.layout[i]!;
        v.set(w.subarray(e.offset, e.offset + e.size), at);
        at += e.size;
      }
    });
    return v;
  });
}

/** The inverse of `stackWeights`. */
function unstackWeights(spec: ModelSpec, plan: readonly StackedParam[], stacked: readonly Float32Array[], K: number): Float32Array[] {
  const weights = Array.from({ length: K }, () => new Float32Array(spec.numParams));
  plan.forEach((sp, j) => {
    const size = sp.shape.reduce((a, d) => a * d, 1);
    weights.forEach((w, k) => {
      let at = k * size;
      for (const i of sp.layout) {
        const e = spec.layout[i]!;
        w.set(stacked[j]!.subarray(at, at + e.size), e.offset);
        at += e.size;
      }
    });
  });
  return weights;
}

/** The per-client dropout multipliers of one step, laid out for the lockstep forward pass. */
interface StepMasks {
  /** One per dropout layer, in layer order: [K·R, C] (channel dropout) or [K, R, U] (dropout). */
  tensors: tf.Tensor[];
}

/**
 * Logits [K, R, classes] of the K stacked models (parameters as `stackPlan` stacks them) on input
 * [K·R, H, W, C0], client-major. `masks` (training only) are the dropout multipliers of the step, in layer order;
 * `inputGradient` makes the logits differentiable in x (an attack's input gradient).
 */
export function lockstepLogits(layers: readonly LayerSpec[], params: readonly tf.Tensor[], x: tf.Tensor4D, K: number, masks?: StepMasks, inputGradient = false): tf.Tensor3D {
  let h: tf.Tensor = x;
  let p = 0;
  let dropIndex = 0;
  const n = x.shape[0];
  const R = n / K;
  const fuse = fusedEpiloguesAvailable();
  const act = (t: tf.Tensor, a: Activation | undefined): tf.Tensor => (a === 'relu' ? tf.relu(t) : a === 'tanh' ? tf.tanh(t) : t);
  const maskOf = (l: LayerSpec): tf.Tensor | undefined => {
    const m = masks !== undefined && 'rate' in l && l.rate > 0 ? masks.tensors[dropIndex] : undefined;
    dropIndex++;
    return m;
  };
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i]!;
    switch (l.kind) {
      case 'conv': {
        const w = params[p++] as tf.Tensor3D;
        const z = groupedConv(h as tf.Tensor4D, w, l.kernel, l.kernel, h !== x || inputGradient);
        // conv → [channel-dropout] → maxpool → relu: one fused kernel on webgpu, as in `forward`.
        const dropout = layers[i + 1]?.kind === 'channel-dropout' ? layers[i + 1]! : undefined;
        const pool = layers[i + (dropout ? 2 : 1)];
        if (fuse && l.activation === undefined && pool?.kind === 'maxpool' && layers[i + (dropout ? 3 : 2)]?.kind === 'relu') {
          const mask = dropout !== undefined ? maskOf(dropout) : undefined;
          // The bias is folded into the filter: no bias gradient to sum here.
          h = convEpilogue(z, undefined, mask as tf.Tensor2D | undefined, pool.size, false);
          i += dropout ? 3 : 2;
        } else {
          h = act(z, l.activation);
        }
        break;
      }
      case 'maxpool':
        h = tf.maxPool(h as tf.Tensor4D, l.size, l.size, 'valid');
        break;
      case 'relu':
        h = tf.relu(h);
        break;
      case 'tanh':
        h = tf.tanh(h);
        break;
      case 'flatten':
        h = tf.reshape(h, [K, R, -1]);
        break;
      case 'dense': {
        const z = tf.matMul(h as tf.Tensor3D, params[p] as tf.Tensor3D) as tf.Tensor3D;
        const b = params[p + 1] as tf.Tensor2D;
        p += 2;
        const dropout = layers[i + 1]?.kind === 'dropout' ? layers[i + 1]! : undefined;
        if (l.activation === 'tanh') {
          h = tf.tanh(groupedBias(z, b, undefined, false));
        } else {
          // dense(relu or none) → [dropout]: one kernel on webgpu.
          const mask = dropout !== undefined ? maskOf(dropout) : undefined;
          h = groupedBias(z, b, mask as tf.Tensor3D | undefined, l.activation === 'relu');
          if (dropout !== undefined) i++;
        }
        break;
      }
      case 'dropout': {
        const m = maskOf(l);
        if (m !== undefined) h = tf.mul(h, m);
        break;
      }
      case 'channel-dropout': {
        const m = maskOf(l);
        if (m !== undefined) h = tf.mul(h, tf.reshape(m, [n, 1, 1, m.shape[1]!]));
        break;
      }
    }
  }
  return h as tf.Tensor3D;
}

/** Where each client is in its own schedule of (epoch, minibatch) steps. */
interface Schedule {
  /** Per step: [start, end) of `orders[epoch]`, a permutation of the client's positions 0 … n − 1. */
  steps: { epoch: number; start: number; end: number }[];
  orders: Int32Array[];
}

function schedule(count: number, seed: number, epochs: number, batchSize: number): Schedule {
  const orders: Int32Array[] = [];
  const steps: Schedule['steps'] = [];
  for (let e = 0; e < epochs; e++) {
    // Positions, not rows: the permutation trainLocal applies to the client's rows (epochOrder).
    const order = epochOrder(range(count), seed, e);
    orders.push(order);
    for (let start = 0; start < order.length; start += batchSize) steps.push({ epoch: e, start, end: Math.min(start + batchSize, order.length) });
  }
  return { steps, orders };
}

/** A float32 tensor of `values`, uploaded without a staging buffer on webgpu. */
function upload(values: Float32Array, shape: number[]): tf.Tensor {
  return webgpuInternals()?.upload(values, shape) ?? tf.tensor(values, shape);
}

/**
 * Trains the clients in lockstep from their starting weights; each client's result is what `trainLocal` with
 * its seed and the shared options would give (SGD with momentum, the shared-set term and, optionally, EAT). Runs on the
 * active backend; awaits only the final reads.
 */
export async function trainLockstep(spec: ModelSpec, clients: readonly LockstepClient[], o: LockstepOptions): Promise<LockstepResult> {
  checkLockstepModel(spec);
  const K = clients.length;
  if (K === 0) throw new Error('lockstep training: no clients');
  if (!Number.isInteger(o.epochs) || o.epochs < 1) throw new Error(`lockstep training: epochs = ${o.epochs}; expected an integer ≥ 1`);
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new Error(`lockstep training: batchSize = ${o.batchSize}; expected an integer ≥ 1`);
  if (!(o.lr > 0 && Number.isFinite(o.lr))) throw new Error(`lockstep training: lr = ${o.lr}; expected a finite number > 0`);
  if (!(o.momentum >= 0 && o.momentum < 1)) throw new Error(`lockstep training: momentum = ${o.momentum}; expected a number in [0, 1)`);
  const [H, W, C0] = spec.inputShape;
  const classes = spec.numClasses;
  const d = H * W * C0;
  clients.forEach((cl, k) => {
    if (cl.indices.length === 0) throw new Error(`lockstep training: client ${k} holds no examples`);
    if (cl.weights.length !== spec.numParams) throw new Error(`lockstep training: client ${k} has ${cl.weights.length} weights; model "${spec.name}" has ${spec.numParams}`);
    if (cl.data.height * cl.data.width * cl.data.channels !== d) throw new Error(`lockstep training: client ${k}'s images are not ${H}×${W}×${C0}`);
  });
  const ns = o.sharedSet?.labels.length ?? 0;
  if (o.sharedSet !== undefined && o.sharedSet.x.length !== ns * d) throw new Error(`lockstep training: the shared set has ${o.sharedSet.x.length} floats for ${ns} labels of ${d}`);
  const eps = o.adversarial?.eps;
  if (eps !== undefined && !(eps >= 0 && eps <= 1)) throw new Error(`lockstep training: adversarial.eps = ${eps}; expected a number in [0, 1]`);
  const B = o.batchSize;
  // A client's rows of a step: its minibatch, the shared set, the adversarial minibatch (EAT), then padding.
  const R = (eps !== undefined ? 2 * B : B) + ns;

  // Every image any client will see, uploaded once: row 0 is zeros (padding), then the shared set, then each
  // client's rows; a step only uploads row numbers and its weighted labels.
  const plans = clients.map((cl) => schedule(cl.indices.length, cl.seed, o.epochs, B));
  const base: number[] = [];
  let total = 1 + ns;
  for (const cl of clients) {
    base.push(total);
    total += cl.indices.length;
  }
  const images = new Float32Array(total * d);
  const labels = new Int32Array(total).fill(-1);
  if (o.sharedSet !== undefined) {
    images.set(o.sharedSet.x, d);
    for (let i = 0; i < ns; i++) labels[1 + i] = o.sharedSet.labels[i]!;
  }
  clients.forEach((cl, k) => {
    for (let i = 0; i < cl.indices.length; i++) {
      const row = cl.indices[i]!;
      images.set(cl.data.images.subarray(row * d, row * d + d), (base[k]! + i) * d);
      labels[base[k]! + i] = cl.data.labels[row]!;
    }
  });
  const table = tf.tensor2d(images, [total, d]);
  // EAT's steps gather from [clean minibatches (K·B rows), adversarial minibatches (K·B), the zero row, the shared set].
  const sharedRows = eps !== undefined ? tf.tensor2d(images.subarray(0, (1 + ns) * d), [1 + ns, d]) : undefined;
  // Stacked parameters and momentum buffers.
  const plan = stackPlan(spec);
  const params = stackWeights(
    spec,
    plan,
    clients.map((cl) => cl.weights),
  ).map((v, j) => {
    const init = tf.tensor(v, [K, ...plan[j]!.shape]);
    try {
      return tf.variable(init, true, `lockstep/${j}`);
    } finally {
      init.dispose();
    }
  });
  let velocity: tf.Tensor[] = params.map((p) => tf.zerosLike(p));
  const lossSum = tf.tidy(() => tf.variable(tf.zeros([K]), false));
  const lossCount = new Float64Array(K);
  const dropLayers = spec.layers.filter((l): l is Extract<LayerSpec, { kind: 'dropout' | 'channel-dropout' }> => l.kind === 'dropout' || l.kind === 'channel-dropout');
  const steps = Math.max(...plans.map((pl) => pl.steps.length));
  const counters = new Int32Array(K);
  const fusedLoss = fusedCrossEntropyAvailable();
  let wasActive = K;
  /**
   * EAT's step input: each client's minibatch crafted into x_adv = clip(x + ε·sign(∇ₓ Σ CE), 0, 1) with its weights
   * before the step (dropout off: `fgsm`), in one input-gradient pass for all K, then the step's rows gathered from
   * [clean, adversarial, zero row, shared set]. Runs inside the caller's tidy.
   */
  const eatRows = (craftIdx: Int32Array, craftLabels: Float32Array, rowIdx: Int32Array, e: number): tf.Tensor => {
    const xMb = tf.reshape(tf.gather(table, tf.tensor1d(craftIdx, 'int32')), [K * B, H, W, C0]) as tf.Tensor4D;
    const y = upload(craftLabels, [K * B, classes]) as tf.Tensor2D;
    const loss = (logits: tf.Tensor2D): tf.Scalar =>
      fusedLoss ? segmentedCrossEntropy(logits, y, [{ rows: K * B, weight: 1 }], { gradientOnly: true }) : (tf.sum(tf.mul(y, tf.neg(tf.logSoftmax(logits)))) as tf.Scalar);
    const g = tf.grad((xx: tf.Tensor) => loss(tf.reshape(lockstepLogits(spec.layers, params, xx as tf.Tensor4D, K, undefined, true), [K * B, classes]) as tf.Tensor2D))(xMb);
    const adv = attackStep(xMb, g, e, 0, 1) ?? tf.clipByValue(tf.add(xMb, tf.mul(tf.sign(g), e)), 0, 1);
    const src = tf.concat([tf.reshape(xMb, [K * B, d]), tf.reshape(adv, [K * B, d]), sharedRows!], 0);
    return tf.reshape(tf.gather(src, tf.tensor1d(rowIdx, 'int32')), [K * R, H, W, C0]);
  };
  try {
    for (let s = 0; s < steps; s++) {
      // EAT: the clean minibatch rows to craft from ([K·B], 0 = the zero row), their unweighted labels, and the
      // step's rows as indices into [clean, adversarial, zero row, shared set].
      const craftIdx = eps !== undefined ? new Int32Array(K * B) : undefined;
      const craftLabels = eps !== undefined ? new Float32Array(K * B * classes) : undefined;
      const zeroRow = 2 * K * B;
      // Each row's image: a row of `table` (row 0: zeros), or for EAT of [clean, adversarial, zero row, shared set].
      const rowIdx = new Int32Array(K * R).fill(eps !== undefined ? zeroRow : 0);
      // Row r of client k: its one-hot label times its weight in the loss (1/n for the minibatch, β/n_s for the
      // shared set, 0 for padding), so Σ_rows CE(softmax(z_r), y_r) is Σ_k loss_k.
      const weightedLabels = new Float32Array(K * R * classes);
      const active = new Float32Array(K);
      const lastEpoch = new Float32Array(K);
      const rowsOf = new Int32Array(K);
      const seeds: number[] = [];
      let anyLast = false;
      clients.forEach((cl, k) => {
        const st = plans[k]!.steps[s];
        if (st === undefined) return;
        active[k] = 1;
        const n = st.end - st.start;
        rowsOf[k] = n + ns;
        const order = plans[k]!.orders[st.epoch]!;
        const put = (i: number, row: number, label: number, weight: number): void => {
          rowIdx[k * R + i] = row;
          weightedLabels[(k * R + i) * classes + label] = weight;
        };
        if (eps === undefined) {
          for (let i = 0; i < n; i++) put(i, base[k]! + order[st.start + i]!, labels[base[k]! + order[st.start + i]!]!, 1 / n);
          for (let i = 0; i < ns; i++) put(n + i, 1 + i, labels[1 + i]!, o.sharedSet!.weight / ns);
        } else {
          rowsOf[k] = 2 * n + ns;
          for (let i = 0; i < n; i++) {
            const row = base[k]! + order[st.start + i]!;
            craftIdx![k * B + i] = row;
            craftLabels![(k * B + i) * classes + labels[row]!] = 1;
            put(i, k * B + i, labels[row]!, 1 / n);
            put(n + ns + i, K * B + k * B + i, labels[row]!, 1 / n);
          }
          for (let i = 0; i < ns; i++) put(n + i, zeroRow + 1 + i, labels[1 + i]!, o.sharedSet!.weight / ns);
        }
        if (st.epoch === o.epochs - 1) {
          lastEpoch[k] = 1;
          lossCount[k]!++;
          anyLast = true;
        }
        // trainLocal's dropout seed of the client's own step counter.
        seeds[k] = (cl.seed * 1000003 + counters[k]! * 7919) >>> 0;
        counters[k]!++;
      });
      const nowActive = active.reduce((a, v) => a + v, 0);
      if (nowActive < wasActive) {
        // Clients whose steps ended: zero their momentum, so that their zero gradients leave their weights be.
        const old = velocity;
        velocity = tf.tidy(() => old.map((v) => tf.mul(v, tf.reshape(tf.tensor1d(active), [K, ...new Array<number>(v.rank - 1).fill(1)]))));
        for (const v of old) v.dispose();
        wasActive = nowActive;
      }
      // Owned by this step (disposed in its finally, also when a step throws).
      const owned: tf.Tensor[] = [];
      try {
        const masks = buildMasks(dropLayers, spec, K, R, rowsOf, active, seeds, owned);
        const stepTensors = tf.tidy(() => {
          const x = (eps !== undefined ? eatRows(craftIdx!, craftLabels!, rowIdx, eps) : tf.reshape(tf.gather(table, tf.tensor1d(rowIdx, 'int32')), [K * R, H, W, C0])) as tf.Tensor4D;
          return { x, y: upload(weightedLabels, [K * R, classes]) as tf.Tensor2D, last: tf.tensor1d(lastEpoch) };
        });
        owned.push(...Object.values(stepTensors));
        tf.tidy(() => {
          const { value, grads } = tf.variableGrads(() => {
            const logits = tf.reshape(lockstepLogits(spec.layers, params, stepTensors.x, K, masks), [K * R, classes]) as tf.Tensor2D;
            // Per-client losses only where some client is in its last epoch (trainLocal's meanLoss).
            const perRow = (): tf.Tensor => tf.sum(tf.mul(stepTensors.y, tf.neg(tf.logSoftmax(logits))), 1);
            if (anyLast) lossSum.assign(tf.add(lossSum, tf.mul(tf.sum(tf.reshape(perRow(), [K, R]), 1), stepTensors.last)));
            if (fusedLoss) return segmentedCrossEntropy(logits, stepTensors.y, [{ rows: K * R, weight: 1 }], { gradientOnly: true });
            return tf.sum(perRow()) as tf.Scalar;
          }, params);
          value.dispose();
          const gradList = params.map((p) => grads[p.name]!);
          if (sgdMomentumInPlace(params, gradList, velocity, o.lr, o.momentum)) return;
          // v ← μv + g, w ← w − v·lr: trainLocal's operations, in its order.
          params.forEach((p, i) => {
            const v = tf.add(tf.mul(velocity[i]!, o.momentum), gradList[i]!);
            velocity[i]!.dispose();
            velocity[i] = tf.keep(v);
            p.assign(tf.sub(p, tf.mul(v, o.lr)));
          });
        });
      } finally {
        for (const t of owned) t.dispose();
      }
    }
    const flat = await Promise.all(params.map((p) => p.data() as Promise<Float32Array>));
    const losses = (await lossSum.data()) as Float32Array;
    const weights = unstackWeights(spec, plan, flat, K);
    const results = clients.map((cl, k): TrainResult => ({ steps: plans[k]!.steps.length, examples: cl.indices.length * o.epochs, meanLoss: losses[k]! / Math.max(1, lossCount[k]!) }));
    return { weights, results, steps };
  } finally {
    for (const t of [...params, ...velocity, lossSum, table, ...(sharedRows !== undefined ? [sharedRows] : [])]) t.dispose();
  }
}

/**
 * The step's dropout multipliers: client k's mask for dropout layer j is `forward`'s draw for its own rows
 * (dropoutMaskValues with seed + 7919·j over [rows_k, …]), placed at its rows k·R …; padded rows and idle clients
 * get 0.
 */
function buildMasks(
  dropLayers: readonly Extract<LayerSpec, { kind: 'dropout' | 'channel-dropout' }>[],
  spec: ModelSpec,
  K: number,
  R: number,
  rowsOf: Int32Array,
  active: Float32Array,
  seeds: readonly number[],
  owned: tf.Tensor[],
): StepMasks {
  // Each mask joins `owned` as it is made, so a failure part-way leaks none.
  const tensors: tf.Tensor[] = owned;
  // Feature counts at each dropout layer: channels before the flatten, units after.
  const widths = dropoutWidths(spec);
  dropLayers.forEach((l, j) => {
    const width = widths[j]!;
    const values = new Float32Array(K * R * width);
    for (let k = 0; k < K; k++) {
      if (active[k] === 0 || l.rate === 0) continue;
      const rows = rowsOf[k]!;
      const shape = l.kind === 'channel-dropout' ? [rows, 1, 1, width] : [rows, width];
      values.set(dropoutMaskValues(shape, l.rate, seeds[k]! + 7919 * j), k * R * width);
    }
    tensors.push(upload(values, l.kind === 'channel-dropout' ? [K * R, width] : [K, R, width]));
  });
  return { tensors: [...tensors] };
}

/** The feature count each dropout layer of the model sees (channels before the flatten, units after). */
function dropoutWidths(spec: ModelSpec): number[] {
  const out: number[] = [];
  let [h, w, c] = spec.inputShape;
  let features = 0;
  for (const l of spec.layers) {
    switch (l.kind) {
      case 'conv':
        h = h - l.kernel + 1;
        w = w - l.kernel + 1;
        c = l.filters;
        break;
      case 'maxpool':
        h = Math.floor(h / l.size);
        w = Math.floor(w / l.size);
        break;
      case 'flatten':
        features = h * w * c;
        break;
      case 'dense':
        features = l.units;
        break;
      case 'channel-dropout':
        out.push(c);
        break;
      case 'dropout':
        out.push(features);
        break;
      default:
        break;
    }
  }
  return out;
}
