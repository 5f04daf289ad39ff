/**
 * Softmax cross-entropy over row segments with one weight each, as two WebGPU dispatches: one for the loss
 * (a single workgroup reduces every row) and one for its gradient. tfjs's `losses.softmaxCrossEntropy` takes
 * about twenty kernels forward and backward (log-softmax, products, sums, the mean) per term, and the client
 * loss of Decent_BVA has up to three terms (minibatch, shared set, adversarial batch) over slices of one logits
 * tensor; here they are one pass.
 *
 * loss = Σ_r w(r) · (Σ_c y_rc · (lse_r − z_rc)),  lse_r = log Σ_c exp z_rc, with w(r) = w_k for rows in segment k.
 * ∂loss/∂z_rc = w(r) · (softmax_rc · Σ_c' y_rc' − y_rc)   (softmax_rc = exp(z_rc − lse_r)).
 * A mean-reduced term over n rows is a segment of weight 1/n; a term scaled by β over n rows, weight β/n.
 */
import * as tf from '@tensorflow/tfjs';
import { webgpuInternals, type ProgramUniform, type WebGpuProgram } from './internals.js';

/** Rows [start of the segment, end) carry this weight; segments are consecutive from row 0. */
export interface LossSegment {
  rows: number;
  weight: number;
}

/** At most this many segments (the uniforms have a fixed layout). */
export const MAX_SEGMENTS = 3;

const REDUCE_THREADS = 256;

// Shared by both shaders: the row statistics and the segment weight.
const ROW_HELPERS = /* wgsl */ `
fn rowWeight(r : i32) -> f32 {
  if (r < uniforms.end0) { return uniforms.w0; }
  if (r < uniforms.end1) { return uniforms.w1; }
  return uniforms.w2;
}
// (max, Σ exp(z − max), Σ y, Σ y·z) of row r.
fn rowStats(r : i32) -> vec4<f32> {
  let C = uniforms.numClasses;
  let base = r * C;
  var m = Z[base];
  for (var c = 1; c < C; c++) { m = max(m, Z[base + c]); }
  var s = 0.0;
  var sy = 0.0;
  var syz = 0.0;
  for (var c = 0; c < C; c++) {
    let z = Z[base + c];
    let y = f32(Y[base + c]);
    s += exp(z - m);
    sy += y;
    syz += y * z;
  }
  return vec4<f32>(m, s, sy, syz);
}`;

const UNIFORMS = 'numRows : i32, numClasses : i32, end0 : i32, end1 : i32, w0 : f32, w1 : f32, w2 : f32,';

class LossProgram implements WebGpuProgram {
  outputShape = [1];
  shaderKey = 'rfl_segmented_softmax_ce_loss';
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number] = [1, 1, 1];
  workgroupSize: [number, number, number] = [REDUCE_THREADS, 1, 1];
  variableNames = ['Z', 'Y'];
  uniforms = UNIFORMS;
  getUserCode(): string {
    return `
      var<workgroup> partial : array<f32, ${REDUCE_THREADS}>;
      ${ROW_HELPERS}
      fn main(index : i32) {
        var acc = 0.0;
        for (var r = i32(localIndex); r < uniforms.numRows; r += ${REDUCE_THREADS}) {
          let st = rowStats(r);
          acc += rowWeight(r) * (st.z * (st.x + log(st.y)) - st.w);
        }
        partial[localIndex] = acc;
        workgroupBarrier();
        for (var s = ${REDUCE_THREADS / 2}u; s > 0u; s = s >> 1u) {
          if (localIndex < s) { partial[localIndex] += partial[localIndex + s]; }
          workgroupBarrier();
        }
        if (localIndex == 0u) { result[0] = partial[0]; }
      }`;
  }
}

class GradProgram implements WebGpuProgram {
  shaderKey = 'rfl_segmented_softmax_ce_grad';
  dispatchLayout = { x: [0, 1] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [128, 1, 1];
  variableNames = ['Z', 'Y', 'DY'];
  uniforms = UNIFORMS;
  size = true;
  constructor(public outputShape: number[]) {
    this.dispatch = [Math.ceil((outputShape[0]! * outputShape[1]!) / 128), 1, 1];
  }
  getUserCode(): string {
    return `
      ${ROW_HELPERS}
      fn main(index : i32) {
        if (index < uniforms.size) {
          let r = index / uniforms.numClasses;
          let st = rowStats(r);
          let p = exp(Z[index] - st.x) / st.y;
          result[index] = DY[0] * rowWeight(r) * (p * st.z - f32(Y[index]));
        }
      }`;
  }
}

function segmentUniforms(rows: number, classes: number, segments: readonly LossSegment[]): ProgramUniform[] {
  if (segments.length === 0 || segments.length > MAX_SEGMENTS) throw new Error(`segmented cross-entropy: ${segments.length} segments; expected 1 to ${MAX_SEGMENTS}`);
  const total = segments.reduce((a, s) => a + s.rows, 0);
  if (total !== rows) throw new Error(`segmented cross-entropy: segments cover ${total} rows, logits have ${rows}`);
  const ends: number[] = [];
  let end = 0;
  for (const s of segments) ends.push((end += s.rows));
  const w = segments.map((s) => s.weight);
  const i32 = (v: number): ProgramUniform => ({ type: 'int32', data: [v] });
  const f32 = (v: number): ProgramUniform => ({ type: 'float32', data: [v] });
  return [i32(rows), i32(classes), i32(ends[0]!), i32(ends[1] ?? rows), f32(w[0]!), f32(w[1] ?? 0), f32(w[2] ?? 0)];
}

/** The same loss with tfjs ops, for backends without the fused kernels (and as the reference in tests). */
export function segmentedCrossEntropyReference(logits: tf.Tensor2D, labels: tf.Tensor2D, segments: readonly LossSegment[]): tf.Scalar {
  return tf.tidy(() => {
    const perRow = tf.sum(tf.mul(labels, tf.neg(tf.logSoftmax(logits))), 1);
    const w: number[] = [];
    for (const s of segments) for (let i = 0; i < s.rows; i++) w.push(s.weight);
    return tf.sum(tf.mul(perRow, tf.tensor1d(w))) as tf.Scalar;
  });
}

/** True when the fused kernels can run (the active backend is webgpu with the expected internals). */
export function fusedCrossEntropyAvailable(): boolean {
  return webgpuInternals() !== undefined;
}

/**
 * Σ_k w_k · Σ_{rows r of segment k} CE(softmax(z_r), y_r), differentiable with respect to the logits (not the
 * labels). With `gradientOnly` the value is NaN and only the gradient is computed. Only on webgpu (see
 * `fusedCrossEntropyAvailable`).
 */
export function segmentedCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor2D, segments: readonly LossSegment[], opts: { gradientOnly?: boolean } = {}): tf.Scalar {
  const gpu = webgpuInternals();
  if (gpu === undefined) throw new Error('segmentedCrossEntropy needs the webgpu backend');
  const [rows, classes] = logits.shape;
  if (labels.shape[0] !== rows || labels.shape[1] !== classes) throw new Error(`segmented cross-entropy: labels ${labels.shape.join(',')} do not match logits ${logits.shape.join(',')}`);
  const uniforms = segmentUniforms(rows, classes, segments);
  const op = tf.customGrad(((z: tf.Tensor, y: tf.Tensor, save: tf.GradSaveFunc) => {
    save([z, y]);
    return {
      // gradientOnly: the caller differentiates and never reads the value (tf.grad), so its kernel is skipped.
      value: opts.gradientOnly === true ? tf.scalar(Number.NaN) : tf.reshape(gpu.runProgram(new LossProgram(), [z, y], uniforms), []),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [zs, ys] = saved as [tf.Tensor, tf.Tensor];
        // The labels are data: no gradient. A placeholder scalar stands in, whose shape tfjs's tape would refuse
        // loudly if a caller ever differentiated with respect to the labels.
        return [gpu.runProgram(new GradProgram([rows, classes]), [zs, ys, dy], uniforms), tf.scalar(0)];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (z: tf.Tensor, y: tf.Tensor) => tf.Scalar;
  return op(logits, labels);
}
