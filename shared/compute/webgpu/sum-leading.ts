/**
 * Σ over the leading axis of a [rows, columns] tensor in one WebGPU dispatch (a thread per column, reading down
 * the rows, neighbouring threads reading neighbouring addresses). tfjs reduces only along the innermost axis, so
 * `tf.sum(x, 0)` costs a transpose and a reduction; the patch-product filter gradient (conv-patch-grad.ts) sums
 * its per-example products this way: [batch, filter size] with a few thousand columns.
 */
import * as tf from '@tensorflow/tfjs';
import { webgpuInternals, type WebGpuProgram } from './internals.js';

class SumLeadingProgram implements WebGpuProgram {
  shaderKey = 'rfl_sum_leading_axis';
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [64, 1, 1];
  variableNames = ['X'];
  uniforms = 'rows : i32,';
  size = true;
  constructor(public outputShape: number[]) {
    this.dispatch = [Math.ceil(outputShape[0]! / 64), 1, 1];
  }
  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          var acc = 0.0;
          for (var r = 0; r < uniforms.rows; r++) { acc += X[r * uniforms.size + index]; }
          result[index] = acc;
        }
      }`;
  }
}

/** Σ_r x[r, :] (shape [columns]); tfjs's `tf.sum(x, 0)` where the webgpu internals are not available. */
export function sumLeadingAxis(x: tf.Tensor2D): tf.Tensor1D {
  const gpu = webgpuInternals();
  if (gpu === undefined) return tf.sum(x, 0);
  const [rows, cols] = x.shape;
  return gpu.runProgram(new SumLeadingProgram([cols]), [x], [{ type: 'int32', data: [rows] }]) as tf.Tensor1D;
}
