/**
 * Lockstep local training: K clients of a federated round train together, one set of tensor operations per step for
 * all of them, instead of one client after another. On a GPU the cost of a step of a small model is the number of
 * dispatches, not the arithmetic, so K clients in lockstep cost about what one costs.
 *
 * How K models become one computation (layer models of `shared/models/layers.ts`):
 * - every parameter is stacked along a new leading client axis: a conv kernel [kh, kw, cin, cout] becomes
 *   [K, kh, kw, cin, cout], a dense kernel [in, out] becomes [K, in, out], a bias [n] becomes [K, n];
 * - before the flatten, activations are [rows, H, W, K·C]: client k owns channels k·C … k·C + C − 1. A
 *   convolution of every client at once is then a depthwise convolution (channel multiplier cout) over the K·cin
 *   channels followed by a sum over each client's cin input channels, or one convolution with a block-diagonal
 *   filter (`LockstepOptions.conv`); max-pooling, ReLU and channel dropout act per channel as they are;
 * - after the flatten, activations are [K, rows, features] and dense layers are batched matrix products;
 * - the loss is Σ_k loss_k. Clients share no parameter, so the gradient of the sum with respect to client k's slice
 *   of the stacked parameters is the gradient of loss_k alone.
 *
 * Each client keeps what makes its training its own: its data and epoch shuffles (the seeds of `trainLocal`), its
 * dropout masks (the same seeded draws as `forward`), its momentum buffers, and its number of steps. A step has
 * the same shape for every client (the minibatch, then the shared set, padded to batchSize + n_s rows): a short
 * last minibatch has padded rows of weight 0, and a client with fewer steps than the others is masked out of the
 * update (its weights and momentum do not move), never truncated. The result equals K calls of `trainLocal` up to
 * float rounding (test/lockstep.test.ts checks 1e-4 against separate trainings on wasm).
 *
 * Nothing is read back synchronously, so the trainer runs on WebGPU (whose tensors Node can only read with
 * `await data()`): the per-client losses accumulate on the device and are read once, at the end.
 *
 * Scope: plain local SGD with momentum and the shared-set term (FedAvg, FedAvg+DS, Fed_Bias, Fed_Variance,
 * Fed_BVA's client training). Local adversarial training (EAT, PGD-AT, TRADES) and function models are refused
 * with an error naming what is missing; those clients train one by one with `trainLocal`.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelSpec } from '../models/model.js';
import { dropoutMaskValues, type Activation, type LayerSpec } from '../models/layers.js';
import { range, type ImageSource } from './batches.js';
import { epochOrder, type TrainResult } from './sgd.js';

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
  /** How the K clients' convolutions run together (default `depthwise`); see `LockstepConv`. */
  conv?: LockstepConv;
}

/**
 * `depthwise`: one depthwise convolution (channel multiplier cout) over the K·cin channels, then a sum over each
 * client's cin channels: exactly the clients' arithmetic. `block-diagonal`: one ordinary convolution whose filter
 * is the K filters on the diagonal of a [kh, kw, K·cin, K·cout] block matrix: K times the arithmetic (the zero
 * blocks), in the backends' most optimised kernel.
 */
export type LockstepConv = 'depthwise' | 'block-diagonal';

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

/** The per-client dropout multipliers of one step, laid out for the lockstep forward pass. */
interface StepMasks {
  /** One per dropout layer, in layer order: [R, 1, 1, K·C] (channel dropout) or [K, R, U] (dropout). */
  tensors: tf.Tensor[];
}

/**
 * Logits [K, R, classes] of the K stacked models on input [R, H, W, K·C0]. `masks` (training only) are the
 * dropout multipliers of the step, in layer order.
 */
export function lockstepLogits(layers: readonly LayerSpec[], params: readonly tf.Tensor[], x: tf.Tensor4D, K: number, masks?: StepMasks, conv: LockstepConv = 'depthwise'): tf.Tensor3D {
  let h: tf.Tensor = x;
  let c = x.shape[3] / K;
  let p = 0;
  let dropIndex = 0;
  const rows = x.shape[0];
  const act = (t: tf.Tensor, a: Activation | undefined): tf.Tensor => (a === 'relu' ? tf.relu(t) : a === 'tanh' ? tf.tanh(t) : t);
  for (const l of layers) {
    switch (l.kind) {
      case 'conv': {
        const w = params[p]!; // [K, kh, kw, cin, cout]
        const [, kh, kw, cin, cout] = w.shape as [number, number, number, number, number];
        const perClient = tf.transpose(w, [1, 2, 0, 3, 4]); // [kh, kw, K, cin, cout]
        let y: tf.Tensor;
        if (conv === 'block-diagonal') {
          // One ordinary convolution with a block-diagonal filter: client k's inputs reach only client k's outputs.
          const eye = tf.reshape(tf.eye(K), [1, 1, K, 1, K, 1]);
          const filter = tf.reshape(tf.mul(tf.reshape(perClient, [kh, kw, K, cin, 1, cout]), eye), [kh, kw, K * cin, K * cout]) as tf.Tensor4D;
          y = tf.conv2d(h as tf.Tensor4D, filter, 1, 'valid');
        } else {
          const filter = tf.reshape(perClient, [kh, kw, K * cin, cout]) as tf.Tensor4D;
          y = tf.depthwiseConv2d(h as tf.Tensor4D, filter, 1, 'valid');
          const [, oh, ow] = y.shape as [number, number, number, number];
          if (cin > 1) y = tf.sum(tf.reshape(y, [rows, oh, ow, K, cin, cout]), 4);
        }
        const [, oh, ow] = y.shape as [number, number, number, number];
        y = tf.add(tf.reshape(y, [rows, oh, ow, K * cout]), tf.reshape(params[p + 1]!, [K * cout]));
        h = act(y, l.activation);
        c = cout;
        p += 2;
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
      case 'flatten': {
        const [, hh, ww] = h.shape as [number, number, number, number];
        h = tf.reshape(tf.transpose(tf.reshape(h, [rows, hh, ww, K, c]), [3, 0, 1, 2, 4]), [K, rows, hh * ww * c]);
        break;
      }
      case 'dense':
        h = act(tf.add(tf.matMul(h as tf.Tensor3D, params[p] as tf.Tensor3D), tf.expandDims(params[p + 1]!, 1)), l.activation);
        p += 2;
        break;
      case 'dropout':
      case 'channel-dropout':
        if (masks !== undefined && l.rate > 0) h = tf.mul(h, masks.tensors[dropIndex]!);
        dropIndex++;
        break;
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

/**
 * Trains the clients in lockstep from their starting weights; each client's result is what `trainLocal` with
 * its seed and the shared options would give (plain SGD with momentum and the shared-set term). Runs on the
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
  const B = o.batchSize;
  const R = B + ns;

  // Every image any client will see, uploaded once: row 0 is zeros (padding), then the shared set, then each
  // client's rows; a step only uploads row numbers.
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
  const oneHot = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), classes).toFloat() as tf.Tensor2D); // row 0: zeros (label −1)
  // Stacked parameters and momentum buffers.
  const params = spec.layout.map((e) => {
    const v = new Float32Array(K * e.size);
    clients.forEach((cl, k) => v.set(cl.weights.subarray(e.offset, e.offset + e.size), k * e.size));
    const init = tf.tensor(v, [K, ...e.shape]);
    try {
      return tf.variable(init, true, `lockstep/${e.name}`);
    } finally {
      init.dispose();
    }
  });
  const velocity: tf.Tensor[] = params.map((p) => tf.zerosLike(p));
  const lossSum = tf.tidy(() => tf.variable(tf.zeros([K]), false));
  const lossCount = new Float64Array(K);
  const lr = tf.scalar(o.lr);
  const mu = tf.scalar(o.momentum);
  const dropLayers = spec.layers.filter((l): l is Extract<LayerSpec, { kind: 'dropout' | 'channel-dropout' }> => l.kind === 'dropout' || l.kind === 'channel-dropout');
  const steps = Math.max(...plans.map((pl) => pl.steps.length));
  const counters = new Int32Array(K);
  try {
    for (let s = 0; s < steps; s++) {
      const rowIdx = new Int32Array(K * R); // 0: the zero row
      const weights = new Float32Array(K * R);
      const active = new Float32Array(K);
      const lastEpoch = new Float32Array(K);
      const rowsOf = new Int32Array(K);
      const seeds: number[] = [];
      clients.forEach((cl, k) => {
        const st = plans[k]!.steps[s];
        if (st === undefined) return;
        active[k] = 1;
        const n = st.end - st.start;
        rowsOf[k] = n + ns;
        const order = plans[k]!.orders[st.epoch]!;
        for (let i = 0; i < n; i++) {
          rowIdx[k * R + i] = base[k]! + order[st.start + i]!;
          weights[k * R + i] = 1 / n;
        }
        for (let i = 0; i < ns; i++) {
          rowIdx[k * R + n + i] = 1 + i;
          weights[k * R + n + i] = o.sharedSet!.weight / ns;
        }
        if (st.epoch === o.epochs - 1) {
          lastEpoch[k] = 1;
          lossCount[k]!++;
        }
        // trainLocal's dropout seed of the client's own step counter.
        seeds[k] = (cl.seed * 1000003 + counters[k]! * 7919) >>> 0;
        counters[k]!++;
      });
      const masks = buildMasks(dropLayers, spec, clients.length, R, rowsOf, active, seeds);
      const stepTensors = tf.tidy(() => {
        const idx = tf.tensor1d(rowIdx, 'int32');
        // [K·R, d] → [K, R, H, W, C0] → [R, H, W, K, C0] → [R, H, W, K·C0]
        const x = tf.reshape(tf.transpose(tf.reshape(tf.gather(table, idx), [K, R, H, W, C0]), [1, 2, 3, 0, 4]), [R, H, W, K * C0]) as tf.Tensor4D;
        const y = tf.reshape(tf.gather(oneHot, idx), [K, R, classes]) as tf.Tensor3D;
        return { x, y, w: tf.tensor2d(weights, [K, R]), a: tf.tensor1d(active), last: tf.tensor1d(lastEpoch) };
      });
      try {
        tf.tidy(() => {
          const { value, grads } = tf.variableGrads(() => {
            const logits = lockstepLogits(spec.layers, params, stepTensors.x, K, masks, o.conv);
            const ce = tf.neg(tf.sum(tf.mul(stepTensors.y, tf.logSoftmax(logits)), 2)); // [K, R]
            const perClient = tf.sum(tf.mul(stepTensors.w, ce), 1); // [K]
            lossSum.assign(tf.add(lossSum, tf.mul(perClient, stepTensors.last)));
            return tf.sum(perClient) as tf.Scalar;
          }, params);
          value.dispose();
          params.forEach((p, i) => {
            const g = grads[p.name]!;
            const a = tf.reshape(stepTensors.a, [K, ...new Array<number>(p.rank - 1).fill(1)]);
            // v ← μv + g, w ← w − v·lr (trainLocal's operations, in its order) for active clients (a = 1, so the
            // product is exact); an idle client's weights stay (a = 0). Its momentum may drift: a client's steps are a
            // prefix of the lockstep steps, so an idle client never steps again and its momentum is never used.
            const v = tf.add(tf.mul(velocity[i]!, mu), g);
            velocity[i]!.dispose();
            velocity[i] = tf.keep(v);
            p.assign(tf.sub(p, tf.mul(tf.mul(v, lr), a)));
          });
        });
      } finally {
        for (const t of Object.values(stepTensors)) t.dispose();
        for (const t of masks.tensors) t.dispose();
      }
    }
    const flat = await Promise.all(params.map((p) => p.data() as Promise<Float32Array>));
    const losses = (await lossSum.data()) as Float32Array;
    const weights = clients.map(() => new Float32Array(spec.numParams));
    spec.layout.forEach((e, i) => {
      weights.forEach((w, k) => w.set(flat[i]!.subarray(k * e.size, (k + 1) * e.size), e.offset));
    });
    const results = clients.map((cl, k): TrainResult => ({ steps: plans[k]!.steps.length, examples: cl.indices.length * o.epochs, meanLoss: losses[k]! / Math.max(1, lossCount[k]!) }));
    return { weights, results, steps };
  } finally {
    for (const t of [...params, ...velocity, lossSum, lr, mu, table, oneHot]) t.dispose();
  }
}

/**
 * The step's dropout multipliers: client k's mask for dropout layer j is `forward`'s draw for its own rows
 * (dropoutMaskValues with seed + 7919·j over [rows_k, …]), placed in the lockstep layout; padded rows and idle
 * clients get 0.
 */
function buildMasks(
  dropLayers: readonly Extract<LayerSpec, { kind: 'dropout' | 'channel-dropout' }>[],
  spec: ModelSpec,
  K: number,
  R: number,
  rowsOf: Int32Array,
  active: Float32Array,
  seeds: readonly number[],
): StepMasks {
  const tensors: tf.Tensor[] = [];
  // Feature counts at each dropout layer: channels before the flatten, units after.
  const widths = dropoutWidths(spec);
  dropLayers.forEach((l, j) => {
    const width = widths[j]!;
    const values = new Float32Array(K * R * width);
    for (let k = 0; k < K; k++) {
      if (active[k] === 0 || l.rate === 0) continue;
      const rows = rowsOf[k]!;
      const shape = l.kind === 'channel-dropout' ? [rows, 1, 1, width] : [rows, width];
      const m = dropoutMaskValues(shape, l.rate, seeds[k]! + 7919 * j);
      if (l.kind === 'channel-dropout') {
        // [R, 1, 1, K·C]: row r, channel k·C + c.
        for (let r = 0; r < rows; r++) values.set(m.subarray(r * width, (r + 1) * width), r * K * width + k * width);
      } else {
        // [K, R, U]
        values.set(m, k * R * width);
      }
    }
    tensors.push(l.kind === 'channel-dropout' ? tf.tensor4d(values, [R, 1, 1, K * width]) : tf.tensor3d(values, [K, R, width]));
  });
  return { tensors };
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
