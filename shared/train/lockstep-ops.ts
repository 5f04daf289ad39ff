/**
 * The differentiable operations of lockstep training (lockstep.ts), on a client-major stack: activations are
 * [K·R, H, W, C] before the flatten (client k owns rows k·R … k·R + R − 1) and [K, R, features] after it, so every
 * per-example operation (pooling, ReLU, dropout masks) acts on the stack as it is, and only the layers with weights
 * need the client axis.
 *
 * - `groupedConv`: each client's stride-1 'valid' convolution with its own filter, as im2col and one batched
 *   matrix product per client, the bias folded into the filter as a last row (against a column of ones in the
 *   patches), so the bias gradient comes out of the filter gradient.
 * - `groupedBias`: act(z + b_k) ⊙ mask for a dense layer's product z [K, R, U] and per-client biases [K, U].
 *
 * On webgpu the patches, their adjoint (col2im), the per-client sums and the bias epilogue are the project's own
 * kernels (shared/compute/webgpu/lockstep-kernels.ts); elsewhere (cpu, wasm, native; tests) the same arithmetic
 * runs as tfjs ops, so the lockstep trainer is checked on the cpu backend against separate trainings.
 */
import * as tf from '@tensorflow/tfjs';
import { col2imGpu, groupedBiasBackwardGpu, groupedBiasForwardGpu, groupRowSumsGpu, im2colGpu, lockstepKernelsAvailable, type PatchGeometry } from '../compute/webgpu/lockstep-kernels.js';

/** Patches [N·oh·ow, kh·kw·cin + 1] of x [N, H, W, cin]: column (i·kw + j)·cin + c, then a column of ones. */
export function im2col(x: tf.Tensor4D, kh: number, kw: number): tf.Tensor2D {
  if (lockstepKernelsAvailable()) return im2colGpu(x, kh, kw);
  const [n, h, w, cin] = x.shape;
  const oh = h - kh + 1;
  const ow = w - kw + 1;
  return tf.tidy(() => {
    const parts: tf.Tensor[] = [];
    for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) parts.push(tf.slice(x, [0, i, j, 0], [n, oh, ow, cin]));
    parts.push(tf.ones([n, oh, ow, 1]));
    return tf.reshape(tf.concat(parts, 3), [n * oh * ow, kh * kw * cin + 1]);
  });
}

/** The adjoint of `im2col` (its ones column dropped): dx [N, H, W, cin] from dpatches [N·oh·ow, kh·kw·cin + 1]. */
export function col2im(dpatches: tf.Tensor2D, g: PatchGeometry): tf.Tensor4D {
  if (lockstepKernelsAvailable()) return col2imGpu(dpatches, g);
  const oh = g.inH - g.kh + 1;
  const ow = g.inW - g.kw + 1;
  return tf.tidy(() => {
    const d = tf.reshape(dpatches, [g.n, oh, ow, g.kh * g.kw * g.cin + 1]);
    const parts: tf.Tensor4D[] = [];
    for (let i = 0; i < g.kh; i++)
      for (let j = 0; j < g.kw; j++) {
        const part = tf.slice(d, [0, 0, 0, (i * g.kw + j) * g.cin], [g.n, oh, ow, g.cin]) as tf.Tensor4D;
        parts.push(
          tf.pad(part, [
            [0, 0],
            [i, g.kh - 1 - i],
            [j, g.kw - 1 - j],
            [0, 0],
          ]),
        );
      }
    return tf.addN(parts);
  });
}

/** Σ_r x[g, r, f]: [G, R, F] → [G, F]. */
function groupRowSums(x: tf.Tensor3D): tf.Tensor2D {
  return lockstepKernelsAvailable() ? groupRowSumsGpu(x) : tf.sum(x, 1);
}

type Op = (...inputs: tf.Tensor[]) => tf.Tensor;

/**
 * Client k's convolution of its rows of x [K·R, H, W, cin] with w[k] [kh·kw·cin + 1, cout] (filter rows in the
 * order of a [kh, kw, cin, cout] filter, then the bias): [K·R, oh, ow, cout]. Differentiable in w and, unless
 * `inputGradient` is false (a layer that reads the data), in x; a placeholder scalar stands in for a gradient not
 * computed, which tfjs's tape refuses loudly should anyone ask for it.
 */
export function groupedConv(x: tf.Tensor4D, w: tf.Tensor3D, kh: number, kw: number, inputGradient: boolean): tf.Tensor4D {
  const [K, cols, cout] = w.shape;
  const [n, inH, inW, cin] = x.shape;
  if (cols !== kh * kw * cin + 1) throw new Error(`groupedConv: filter rows ${cols}, expected ${kh}·${kw}·${cin} + 1`);
  if (n % K !== 0) throw new Error(`groupedConv: ${n} rows are not ${K} clients' equal shares`);
  const R = n / K;
  const oh = inH - kh + 1;
  const ow = inW - kw + 1;
  const geometry: PatchGeometry = { n, inH, inW, cin, kh, kw };
  const gpu = lockstepKernelsAvailable();
  const op = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xs, ws, save] = args as [tf.Tensor4D, tf.Tensor3D, tf.GradSaveFunc];
    const patches = im2col(xs, kh, kw);
    save([patches, ws]);
    return {
      value: tf.reshape(tf.matMul(tf.reshape(patches, [K, R * oh * ow, cols]), ws), [n, oh, ow, cout]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [p, wk] = saved as [tf.Tensor2D, tf.Tensor3D];
        // dW_k = Σ over client k's rows of patchesᵀ · dy. On the GPU as one product per example (parallel over
        // K·R) and a per-client sum: one product per client would loop over R·oh·ow in a few workgroups.
        const dw = gpu
          ? tf.reshape(groupRowSums(tf.reshape(tf.matMul(tf.reshape(p, [n, oh * ow, cols]), tf.reshape(dy, [n, oh * ow, cout]), true, false), [K, R, cols * cout])), [K, cols, cout])
          : tf.matMul(tf.reshape(p, [K, R * oh * ow, cols]), tf.reshape(dy, [K, R * oh * ow, cout]), true, false);
        const dx = inputGradient ? col2im(tf.reshape(tf.matMul(tf.reshape(dy, [K, R * oh * ow, cout]), wk, false, true), [n * oh * ow, cols]), geometry) : tf.scalar(0);
        return [dx, dw];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as Op;
  return op(x, w) as tf.Tensor4D;
}

/**
 * act(z + b_k) ⊙ mask for z [K, R, U] (client k's rows k), b [K, U] and mask [K, R, U] or none; act is ReLU or
 * the identity. Differentiable in z and b.
 */
export function groupedBias(z: tf.Tensor3D, b: tf.Tensor2D, mask: tf.Tensor3D | undefined, relu: boolean): tf.Tensor3D {
  if (!lockstepKernelsAvailable()) {
    const v = tf.add(z, tf.expandDims(b, 1));
    const a = relu ? tf.relu(v) : v;
    return (mask !== undefined ? tf.mul(a, mask) : a) as tf.Tensor3D;
  }
  const op = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [zs, bs, ms] = args as [tf.Tensor3D, tf.Tensor2D, tf.Tensor3D | undefined];
    save(args as tf.Tensor[]);
    return {
      value: groupedBiasForwardGpu(zs, bs, ms, relu),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [zv, bv, mv] = saved as [tf.Tensor3D, tf.Tensor2D, tf.Tensor3D | undefined];
        const dz = groupedBiasBackwardGpu(zv, bv, mv, relu, dy);
        // The mask is data: a placeholder scalar stands in for its gradient.
        return [dz, groupRowSums(dz), ...(mv !== undefined ? [tf.scalar(0)] : [])];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as Op;
  return (mask !== undefined ? op(z, b, mask) : op(z, b)) as tf.Tensor3D;
}
