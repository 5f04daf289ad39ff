/**
 * Conv2DBackpropFilter for tfjs-backend-wasm, which ships none (training any conv net throws "Kernel not
 * registered" without it).
 *
 * Maths: dW[kh,kw,ci,co] = Σ_{b,oh,ow} x[b, oh·s+kh−pt, ow·s+kw−pl, ci] · dy[b,oh,ow,co].
 * Read the batch as the channel axis and this is one forward convolution:
 *   input  X' = x transposed to [Cin, Hp, Wp, B] (forward padding applied, rows past the last window cropped)
 *   filter D' = dy transposed to [OH, OW, B, Cout]
 *   output     = conv(X', D', dilation = forward stride, valid) : [Cin, KH, KW, Cout]
 * then a transpose to [KH, KW, Cin, Cout]. The convolution runs on XNNPACK; the three layout passes are
 * single JS loops over the heap. (docs/spec/compute-backend.md §3, "The plan, as built", item 2.)
 *
 * With very few input channels (Cin ≤ 2, e.g. the first layer on grey images) a plain GEMM is faster and
 * needs no transpose of dy: dW[KH·KW·Cin, Cout] = colsᵀ[KH·KW·Cin, B·OH·OW] × dy[B·OH·OW, Cout], where colsᵀ is
 * built row by row with contiguous writes.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { alloc, convDims, SMALL_CIN, free, view, wasmMatMul, xnnConv2d, type TensorInfo } from './wasm-heap.js';

function conv2dBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: BackendWasm; attrs: tf.NamedAttrMap }): TensorInfo {
  const { backend } = args;
  const x = args.inputs['x'] as TensorInfo;
  const dy = args.inputs['dy'] as TensorInfo;
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (attrs.dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter (wasm): only NHWC is supported');
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], attrs.filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const { B, H, W, Cin, Cout, OH, OW, KH, KW, sh, sw, pt, pl } = convDims(info);
  if (Cin <= SMALL_CIN) return viaGemm(backend, x, dy, info);
  // Extent of the input the windows actually touch; the conv below then yields exactly KH × KW.
  const Hp = (OH - 1) * sh + KH;
  const Wp = (OW - 1) * sw + KW;

  const xt = alloc(backend, [Cin, Hp, Wp, B]);
  const dyt = alloc(backend, [OH, OW, B, Cout]);
  {
    const src = view(backend, x);
    const dst = view(backend, xt);
    // dst[ci, r, c, b] = src[b, r − pt, c − pl, ci], zero outside the input (padding).
    dst.fill(0);
    for (let b = 0; b < B; b++) {
      for (let r = 0; r < Hp; r++) {
        const i = r - pt;
        if (i < 0 || i >= H) continue;
        for (let c = 0; c < Wp; c++) {
          const j = c - pl;
          if (j < 0 || j >= W) continue;
          const s0 = ((b * H + i) * W + j) * Cin;
          const d0 = (r * Wp + c) * B + b;
          for (let ci = 0; ci < Cin; ci++) dst[ci * Hp * Wp * B + d0] = src[s0 + ci];
        }
      }
    }
    const g = view(backend, dy);
    const gt = view(backend, dyt);
    // gt[oh, ow, b, co] = g[b, oh, ow, co]; written sequentially, read in rows of Cout.
    const plane = OH * OW * Cout;
    let d = 0;
    for (let p = 0; p < OH * OW; p++) {
      for (let b = 0; b < B; b++) {
        const s0 = b * plane + p * Cout;
        for (let co = 0; co < Cout; co++) gt[d++] = g[s0 + co]!;
      }
    }
  }
  const raw = xnnConv2d(backend, xt, dyt, [sh, sw]); // [Cin, KH, KW, Cout]
  free(backend, xt);
  free(backend, dyt);
  const out = alloc(backend, [KH, KW, Cin, Cout]);
  const src = view(backend, raw);
  const dst = view(backend, out);
  for (let ci = 0; ci < Cin; ci++) {
    for (let k = 0; k < KH * KW; k++) {
      const s0 = (ci * KH * KW + k) * Cout;
      const d0 = (k * Cin + ci) * Cout;
      for (let co = 0; co < Cout; co++) dst[d0 + co] = src[s0 + co];
    }
  }
  free(backend, raw);
  return out;
}

function viaGemm(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, info: tf.backend_util.Conv2DInfo): TensorInfo {
  const { B, H, W, Cin, Cout, OH, OW, KH, KW, sh, sw, pt, pl } = convDims(info);
  const M = B * OH * OW;
  const KK = KH * KW * Cin;
  const colsT = alloc(backend, [1, KK, M]);
  {
    const src = view(backend, x);
    const dst = view(backend, colsT);
    let d = 0;
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        for (let ci = 0; ci < Cin; ci++) {
          for (let b = 0; b < B; b++) {
            for (let oh = 0; oh < OH; oh++) {
              const i = oh * sh + kh - pt;
              if (i < 0 || i >= H) {
                dst.fill(0, d, d + OW);
                d += OW;
                continue;
              }
              const rowBase = (b * H + i) * W;
              for (let ow = 0; ow < OW; ow++) {
                const j = ow * sw + kw - pl;
                dst[d++] = j < 0 || j >= W ? 0 : src[(rowBase + j) * Cin + ci]!;
              }
            }
          }
        }
      }
    }
  }
  // The caller's dy must not be BatchMatMul's `b`: tfjs-wasm caches an XNNPACK operator per `b` id (ignoring
  // its shape), so a later matMul on the same data would reuse an operator packed for another shape and abort.
  // A fresh copy (freed below, which also drops its cached operator) costs one memcpy.
  const dyCopy = alloc(backend, [1, M, Cout]);
  view(backend, dyCopy).set(view(backend, dy));
  const out = wasmMatMul(backend, colsT, dyCopy);
  free(backend, colsT);
  free(backend, dyCopy);
  // [1, KH·KW·Cin, Cout] has the memory layout of [KH, KW, Cin, Cout].
  return { dataId: out.dataId, shape: [KH, KW, Cin, Cout], dtype: 'float32' };
}

/** Kernel registration for tfjs-wasm's missing Conv2DBackpropFilter. */
export const conv2dBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2dBackpropFilter as unknown as tf.KernelFunc,
};
