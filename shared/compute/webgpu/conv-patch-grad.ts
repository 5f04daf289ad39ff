/**
 * A stride-1 'valid' convolution whose filter gradient is a batched matrix product of image patches, for the
 * WebGPU backend. tfjs-backend-webgpu's Conv2DBackpropFilter gives each filter weight one thread that loops over
 * batch × output rows × output columns: 250 threads each summing 590,000 terms for cnn-mnist's first layer at
 * batch 1,024, which made it 191 of a 194 ms training step on an H200 (bench/gpu/profile-kernels.ts).
 * Here the patches come from a forward convolution with a one-hot "identity" filter (im2col on the GPU's fast
 * path), then dW = Σ_b patches_bᵀ · dy_b is one batched matmul (one product per example, in parallel) and a
 * sum over the batch. The input gradient stays tfjs's Conv2DBackpropInput.
 */
import * as tf from '@tensorflow/tfjs';
import { sumLeadingAxis } from './sum-leading.js';

const identities = new Map<string, tf.Tensor4D>();

/** The one-hot filter [kh, kw, cin, kh·kw·cin] whose convolution lays each patch out along the channels. */
function identityFilter(kh: number, kw: number, cin: number): tf.Tensor4D {
  const key = `${tf.getBackend()}:${kh}x${kw}x${cin}`;
  let f = identities.get(key);
  if (f === undefined || f.isDisposed) {
    const k = kh * kw * cin;
    const v = new Float32Array(kh * kw * cin * k);
    // Weight (i, j, c) → output channel (i·kw + j)·cin + c: the layout of the filter tensor [kh, kw, cin].
    for (let i = 0; i < kh; i++)
      for (let j = 0; j < kw; j++)
        for (let c = 0; c < cin; c++) {
          const ch = (i * kw + j) * cin + c;
          v[((i * kw + j) * cin + c) * k + ch] = 1;
        }
    f = tf.keep(tf.tensor4d(v, [kh, kw, cin, k]));
    identities.set(key, f);
  }
  return f;
}

/**
 * conv2d(x, w, stride 1, 'valid') with the patch-product filter gradient. With `inputGradient` false the input's
 * gradient is not computed (a placeholder scalar stands in): for a layer that reads the data directly, whose input
 * gradient a parameter update never uses but a custom gradient would otherwise compute. Should a caller ask for
 * that gradient anyway, tfjs's tape refuses the scalar's shape loudly rather than passing on a wrong value.
 */
function makeConv2dPatchGrad(inputGradient: boolean): (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D {
  return tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x4, w4, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
    save([x4, w4]);
    return {
      value: tf.conv2d(x4, w4, 1, 'valid'),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
        const [kh, kw, cin, cout] = ws.shape;
        const dy4 = dy as tf.Tensor4D;
        const [b, oh, ow] = dy4.shape;
        const dx = inputGradient ? tf.conv2dTranspose(dy4, ws, xs.shape, 1, 'valid') : tf.scalar(0);
        const patches = tf.conv2d(xs, identityFilter(kh, kw, cin), 1, 'valid'); // [b, oh, ow, kh·kw·cin]
        const perExample = tf.matMul(tf.reshape(patches, [b, oh * ow, kh * kw * cin]), tf.reshape(dy4, [b, oh * ow, cout]), true, false);
        const dw = tf.reshape(sumLeadingAxis(tf.reshape(perExample, [b, kh * kw * cin * cout])), [kh, kw, cin, cout]);
        return [dx, dw];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D;
}

/** conv2d(x, w, stride 1, 'valid') with the patch-product filter gradient. */
export const conv2dPatchGrad = makeConv2dPatchGrad(true);
/** The same without the input gradient (its gradient is zeros): only for a layer whose input is data. */
export const conv2dPatchGradNoInputGrad = makeConv2dPatchGrad(false);
