/**
 * A tiny declarative layer language: a model is a list of layer specs; parameters are plain tensors in a
 * fixed order; the forward pass is a pure function of (parameters, input, mode).
 *
 * Why not tfjs-layers: its fused convolutions compute every gradient (filter, bias and input) whenever any
 * is asked for, so an input-only gradient (FGSM, PGD, Decent_BVA statistics) would pay for the parameter
 * gradients and training would pay for the first layer's input gradient. Plain ops let tfjs's tape prune
 * what is not on the path. Inference, which needs no gradient, uses fused ops instead.
 */
import * as tf from '@tensorflow/tfjs';
import { conv2dPatchGrad, conv2dPatchGradNoInputGrad } from '../compute/webgpu/conv-patch-grad.js';
import { biasAddMatmulGrad } from '../compute/webgpu/bias-add-grad.js';
import { convEpilogue, denseEpilogue, fusedEpiloguesAvailable } from '../compute/webgpu/epilogues.js';
import { webgpuInternals } from '../compute/webgpu/internals.js';

/** Activation applied after a conv or dense layer. */
export type Activation = 'linear' | 'relu' | 'tanh';

/** One layer of a model; shapes are channels-last, as TF.js uses them. */
export type LayerSpec =
  | { kind: 'conv'; filters: number; kernel: number; activation?: Activation }
  | { kind: 'maxpool'; size: number }
  | { kind: 'relu' }
  | { kind: 'tanh' }
  | { kind: 'flatten' }
  | { kind: 'dense'; units: number; activation?: Activation }
  /** Element-wise dropout (training only). */
  | { kind: 'dropout'; rate: number }
  /** 2-D channel dropout (training only): noise shape [batch, 1, 1, channels], like PyTorch's Dropout2d. */
  | { kind: 'channel-dropout'; rate: number };

/** One named parameter of a model, in layout order. */
export interface ParamSpec {
  /** `layer<i>/kernel` or `layer<i>/bias`. */
  name: string;
  shape: number[];
  /** Fan-in of the layer, for initialisation. */
  fanIn: number;
}

/** Forward-pass mode. */
export interface ForwardOptions {
  /** Training mode: dropout on. Default false (inference: dropout is the identity). */
  training?: boolean;
  /** Seed of this pass's dropout masks (training only); default a fresh random draw. */
  dropoutSeed?: number;
  /**
   * False when no gradient with respect to the input will be taken (a parameter update): the first layer may
   * then skip computing it. Default true.
   */
  inputGradient?: boolean;
}

/** Walks the layers from an input shape [H, W, C] and lists their parameters in order. */
export function paramSpecs(layers: readonly LayerSpec[], inputShape: readonly [number, number, number]): ParamSpec[] {
  const out: ParamSpec[] = [];
  let shape: number[] = [...inputShape];
  layers.forEach((l, i) => {
    switch (l.kind) {
      case 'conv': {
        const [h, w, c] = shape as [number, number, number];
        out.push({ name: `layer${i}/kernel`, shape: [l.kernel, l.kernel, c, l.filters], fanIn: l.kernel * l.kernel * c });
        out.push({ name: `layer${i}/bias`, shape: [l.filters], fanIn: l.kernel * l.kernel * c });
        shape = [h - l.kernel + 1, w - l.kernel + 1, l.filters];
        break;
      }
      case 'maxpool': {
        const [h, w, c] = shape as [number, number, number];
        shape = [Math.floor(h / l.size), Math.floor(w / l.size), c];
        break;
      }
      case 'flatten':
        shape = [shape.reduce((a, b) => a * b, 1)];
        break;
      case 'dense': {
        if (shape.length !== 1) throw new Error(`layer ${i}: dense needs a flat input, got shape [${shape.join(', ')}]`);
        const n = shape[0]!;
        out.push({ name: `layer${i}/kernel`, shape: [n, l.units], fanIn: n });
        out.push({ name: `layer${i}/bias`, shape: [l.units], fanIn: n });
        shape = [l.units];
        break;
      }
      default:
        break;
    }
  });
  return out;
}

/** The layers without parameters or randomness, the same in training and inference. */
function parameterless(l: LayerSpec & { kind: 'maxpool' | 'relu' | 'tanh' | 'flatten' }, h: tf.Tensor): tf.Tensor {
  switch (l.kind) {
    case 'maxpool':
      return tf.maxPool(h as tf.Tensor4D, l.size, l.size, 'valid');
    case 'relu':
      return tf.relu(h);
    case 'tanh':
      return tf.tanh(h);
    case 'flatten':
      return tf.reshape(h, [h.shape[0]!, -1]);
  }
}

function activate(x: tf.Tensor, a: Activation | undefined): tf.Tensor {
  if (a === 'relu') return tf.relu(x);
  if (a === 'tanh') return tf.tanh(x);
  return x;
}

/**
 * Differentiable forward pass from plain ops (see the file comment). Returns logits [batch, classes].
 * Call inside tf.tidy / tf.grad; it keeps nothing.
 */
export function forward(layers: readonly LayerSpec[], params: readonly tf.Tensor[], x: tf.Tensor4D, opts: ForwardOptions = {}): tf.Tensor2D {
  const training = opts.training === true;
  let h: tf.Tensor = x;
  let p = 0;
  let dropIndex = 0;
  const seedBase = opts.dropoutSeed ?? Math.floor(Math.random() * 2 ** 31);
  // Training on WebGPU takes the patch-product filter gradient (shared/compute/webgpu/conv-patch-grad.ts); input-only gradients
  // (attacks, inference mode) keep tf.conv2d, whose tape computes no filter gradient at all.
  const webgpu = tf.getBackend() === 'webgpu';
  const plainConv = (a: tf.Tensor4D, w: tf.Tensor4D): tf.Tensor4D => tf.conv2d(a, w, 1, 'valid');
  const conv = training && webgpu ? conv2dPatchGrad : plainConv;
  const firstConv = training && webgpu && opts.inputGradient === false ? conv2dPatchGradNoInputGrad : conv;
  const drop = webgpu ? dropoutByMask : tf.dropout;
  const addBias = training && webgpu ? biasAddMatmulGrad : tf.add;
  // On webgpu, all that follows a convolution (bias, channel dropout, pool, relu) or a dense product (bias, relu,
  // dropout) is one fused kernel forward and one backward, as is a lone maxpool followed by relu.
  // Outside training (input-gradient passes) the same kernels run without masks or bias gradients.
  const fuse = webgpu && fusedEpiloguesAvailable();
  // The multiplier of the next dropout layer (the same seed as the unfused path), undefined at rate 0.
  const dropMask = (rate: number, shape: number[]): tf.Tensor | undefined => {
    const seed = seedBase + 7919 * dropIndex++;
    return rate > 0 ? dropoutMultiplier(shape, rate, seed) : undefined;
  };
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i]!;
    if (fuse && l.kind === 'conv' && l.activation === undefined) {
      // conv → [channel-dropout] → maxpool → relu
      const dropout = layers[i + 1]?.kind === 'channel-dropout' ? (layers[i + 1] as { rate: number }) : undefined;
      const pool = layers[i + (dropout ? 2 : 1)];
      if (pool?.kind === 'maxpool' && layers[i + (dropout ? 3 : 2)]?.kind === 'relu') {
        const z = (h === x ? firstConv : conv)(h as tf.Tensor4D, params[p] as tf.Tensor4D);
        const mask = dropout !== undefined && training ? dropMask(dropout.rate, [z.shape[0], z.shape[3]]) : undefined;
        if (dropout !== undefined && !training) dropIndex++;
        h = convEpilogue(z, params[p + 1] as tf.Tensor1D, mask as tf.Tensor2D | undefined, pool.size, training);
        p += 2;
        i += dropout ? 3 : 2;
        continue;
      }
    }
    if (fuse && l.kind === 'dense' && l.activation === 'relu') {
      // dense(relu) → [dropout]
      const z = tf.matMul(h as tf.Tensor2D, params[p] as tf.Tensor2D) as tf.Tensor2D;
      const dropout = layers[i + 1]?.kind === 'dropout' ? (layers[i + 1] as { rate: number }) : undefined;
      const mask = dropout !== undefined && training ? dropMask(dropout.rate, z.shape) : undefined;
      if (dropout !== undefined && !training) dropIndex++;
      h = denseEpilogue(z, params[p + 1] as tf.Tensor1D, mask as tf.Tensor2D | undefined, training);
      p += 2;
      if (dropout) i++;
      continue;
    }
    switch (l.kind) {
      case 'conv':
        h = activate(addBias((h === x ? firstConv : conv)(h as tf.Tensor4D, params[p] as tf.Tensor4D), params[p + 1]!), l.activation);
        p += 2;
        break;
      case 'dense':
        h = activate(addBias(tf.matMul(h as tf.Tensor2D, params[p] as tf.Tensor2D), params[p + 1]!), l.activation);
        p += 2;
        break;
      case 'maxpool':
        if (fuse && layers[i + 1]?.kind === 'relu') {
          h = convEpilogue(h as tf.Tensor4D, undefined, undefined, l.size);
          i++;
        } else {
          h = parameterless(l, h);
        }
        break;
      case 'relu':
      case 'tanh':
      case 'flatten':
        h = parameterless(l, h);
        break;
      case 'dropout':
        if (training && l.rate > 0) h = drop(h, l.rate, undefined, seedBase + 7919 * dropIndex);
        dropIndex++;
        break;
      case 'channel-dropout':
        if (training && l.rate > 0) {
          h = drop(h, l.rate, [h.shape[0]!, 1, 1, h.shape[3]!], seedBase + 7919 * dropIndex);
        }
        dropIndex++;
        break;
    }
  }
  return h as tf.Tensor2D;
}

/**
 * `tf.dropout` with the mask computed on the CPU from the same seeded uniforms, hence the same values: tfjs's
 * mask is floor(u + keep) / keep in float32, i.e. 1/keep where fround(u + keep) ≥ 1, else 0. On a GPU this is one
 * multiplication instead of four kernels (add, floor, divide, multiply) per dropout layer.
 */
function dropoutByMask(x: tf.Tensor, rate: number, noiseShape: number[] | undefined, seed: number): tf.Tensor {
  return tf.mul(x, dropoutMultiplier(noiseShape ?? x.shape, rate, seed));
}

/**
 * The values of the multiplier tf.dropout(x, rate, shape, seed) applies (0 and 1/keep), computed on the CPU:
 * `forward` and the lockstep trainer (shared/train/lockstep.ts) draw the same masks from the same seeds.
 */
export function dropoutMaskValues(shape: number[], rate: number, seed: number): Float32Array {
  const keep = Math.fround(1 - rate);
  const scale = Math.fround(1 / keep);
  // tf.randomUniform generates on the CPU backend's generator; reading it back is a copy of CPU memory, not a GPU read.
  const u = tf.randomUniform(shape, 0, 1, 'float32', seed);
  const values = u.dataSync() as Float32Array;
  u.dispose();
  const mask = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) mask[i] = Math.fround(values[i]! + keep) >= 1 ? scale : 0;
  return mask;
}

/** The multiplier tf.dropout(x, rate, shape, seed) applies, as a tensor. */
function dropoutMultiplier(shape: number[], rate: number, seed: number): tf.Tensor {
  const mask = dropoutMaskValues(shape, rate, seed);
  return webgpuInternals()?.upload(mask, shape) ?? tf.tensor(mask, shape);
}

/**
 * Inference-only forward pass (no gradients): conv/dense fused with bias and activation, and the pattern
 * conv → maxpool → relu run as conv+relu → maxpool, which is the same function (max and ReLU commute)
 * with the activation on the fused kernel.
 */
export function infer(layers: readonly LayerSpec[], params: readonly tf.Tensor[], x: tf.Tensor4D): tf.Tensor2D {
  let h: tf.Tensor = x;
  let p = 0;
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i]!;
    switch (l.kind) {
      case 'conv': {
        let activation = l.activation ?? 'linear';
        const next = layers[i + 1];
        const after = layers[i + 2];
        let poolAfter = 0;
        if (activation === 'linear' && next?.kind === 'maxpool' && after?.kind === 'relu') {
          activation = 'relu';
          poolAfter = next.size;
          i += 2;
        }
        h = tf.fused.conv2d({
          x: h as tf.Tensor4D,
          filter: params[p] as tf.Tensor4D,
          strides: 1,
          pad: 'valid',
          bias: params[p + 1],
          activation: activation === 'linear' ? undefined : activation === 'tanh' ? undefined : activation,
        });
        if (activation === 'tanh') h = tf.tanh(h);
        if (poolAfter > 0) h = tf.maxPool(h as tf.Tensor4D, poolAfter, poolAfter, 'valid');
        p += 2;
        break;
      }
      case 'dense': {
        const a = l.activation ?? 'linear';
        h = tf.fused.matMul({
          a: h as tf.Tensor2D,
          b: params[p] as tf.Tensor2D,
          bias: params[p + 1],
          activation: a === 'relu' ? 'relu' : undefined,
        });
        if (a === 'tanh') h = tf.tanh(h);
        p += 2;
        break;
      }
      case 'maxpool':
      case 'relu':
      case 'tanh':
      case 'flatten':
        h = parameterless(l, h);
        break;
      case 'dropout':
      case 'channel-dropout':
        break;
    }
  }
  return h as tf.Tensor2D;
}
