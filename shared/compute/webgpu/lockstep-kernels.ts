/**
 * WebGPU kernels of lockstep training (shared/train/lockstep-ops.ts): K clients' examples are stacked client-major
 * ([K·R, H, W, C], client k owns rows k·R … k·R + R − 1), and each client has its own weights. A convolution of
 * all K clients is then im2col (one dispatch) and one batched matrix product per client ([K, R·oh·ow, kh·kw·cin + 1]
 * × [K, kh·kw·cin + 1, cout], the bias folded in as a column of ones); its input gradient is the products' transpose
 * and col2im (one dispatch). tfjs has no im2col for a batch of separate filters: its depthwise and block-diagonal
 * stand-ins cost 132 ms a step for 10 clients on an H100 (docs/gpu.md), against about 5 ms for one client.
 *
 * - `im2col`: x [N, H, W, cin] → patches [N·oh·ow, kh·kw·cin + 1], column (i·kw + j)·cin + c = x[n, y + i, x + j, c]
 *   (the row-major order of a [kh, kw, cin, cout] filter), last column 1 (stride 1, 'valid').
 * - `col2im`: the adjoint of `im2col` without its ones column: dpatches → dx [N, H, W, cin].
 * - `groupRowSums`: x [G, R, F] → Σ_r x[g, r, f], shape [G, F]: per-client sums of per-example filter products and
 *   of bias gradients.
 * - `groupedBiasEpilogue`: act(z + b[g]) ⊙ m for z [G, R, U] and b [G, U] (a dense layer's bias per client), and its
 *   backward.
 * Each thread computes one output value (flat-program.ts); every index is the row-major flat index of its tensor.
 */
import type * as tf from '@tensorflow/tfjs';
import { FlatProgram } from './flat-program.js';
import { webgpuInternals, type ProgramUniform } from './internals.js';

const PATCH_UNIFORMS = 'inH : i32, inW : i32, cin : i32, outH : i32, outW : i32, kh : i32, kw : i32, cols : i32,';

class Im2colProgram extends FlatProgram {
  shaderKey = 'rfl_lockstep_im2col';
  variableNames = ['X'];
  uniforms = PATCH_UNIFORMS;
  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let col = index % uniforms.cols;
          let row = index / uniforms.cols;
          if (col == uniforms.cols - 1) {
            result[index] = 1.0;
          } else {
            let ox = row % uniforms.outW;
            let oy = (row / uniforms.outW) % uniforms.outH;
            let n = row / (uniforms.outW * uniforms.outH);
            let c = col % uniforms.cin;
            let j = (col / uniforms.cin) % uniforms.kw;
            let i = col / (uniforms.cin * uniforms.kw);
            result[index] = X[((n * uniforms.inH + oy + i) * uniforms.inW + ox + j) * uniforms.cin + c];
          }
        }
      }`;
  }
}

class Col2imProgram extends FlatProgram {
  shaderKey = 'rfl_lockstep_col2im';
  variableNames = ['DP'];
  uniforms = PATCH_UNIFORMS;
  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let c = index % uniforms.cin;
          let x = (index / uniforms.cin) % uniforms.inW;
          let y = (index / (uniforms.cin * uniforms.inW)) % uniforms.inH;
          let n = index / (uniforms.cin * uniforms.inW * uniforms.inH);
          var acc = 0.0;
          for (var i = 0; i < uniforms.kh; i++) {
            let oy = y - i;
            if (oy >= 0 && oy < uniforms.outH) {
              for (var j = 0; j < uniforms.kw; j++) {
                let ox = x - j;
                if (ox >= 0 && ox < uniforms.outW) {
                  acc += DP[((n * uniforms.outH + oy) * uniforms.outW + ox) * uniforms.cols + (i * uniforms.kw + j) * uniforms.cin + c];
                }
              }
            }
          }
          result[index] = acc;
        }
      }`;
  }
}

class GroupRowSumsProgram extends FlatProgram {
  shaderKey = 'rfl_lockstep_group_row_sums';
  variableNames = ['X'];
  uniforms = 'rows : i32, features : i32,';
  getUserCode(): string {
    // Neighbouring threads read neighbouring features of the same row.
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let f = index % uniforms.features;
          let g = index / uniforms.features;
          var acc = 0.0;
          for (var r = 0; r < uniforms.rows; r++) { acc += X[(g * uniforms.rows + r) * uniforms.features + f]; }
          result[index] = acc;
        }
      }`;
  }
}

class GroupedBiasProgram extends FlatProgram {
  shaderKey: string;
  variableNames: string[];
  uniforms = 'rows : i32, units : i32,';
  constructor(
    outputShape: number[],
    private readonly relu: boolean,
    private readonly masked: boolean,
    private readonly backward: boolean,
  ) {
    super(outputShape);
    this.shaderKey = `rfl_lockstep_grouped_bias_${relu ? 'relu' : 'linear'}_${masked ? 'm' : ''}_${backward ? 'grad' : 'fwd'}`;
    this.variableNames = ['Z', 'B', ...(masked ? ['M'] : []), ...(backward ? ['DY'] : [])];
  }
  getUserCode(): string {
    const mask = this.masked ? ' * M[index]' : '';
    const body = this.backward
      ? this.relu
        ? `var dz = 0.0;
          if (v > 0.0) { dz = DY[index]${mask}; }
          result[index] = dz;`
        : `result[index] = DY[index]${mask};`
      : `result[index] = ${this.relu ? 'max(v, 0.0)' : 'v'}${mask};`;
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let u = index % uniforms.units;
          let client = index / (uniforms.units * uniforms.rows);
          let v = Z[index] + B[client * uniforms.units + u];
          ${body}
        }
      }`;
  }
}

/** The shapes of one convolution's patches. */
export interface PatchGeometry {
  n: number;
  inH: number;
  inW: number;
  cin: number;
  kh: number;
  kw: number;
}

function patchUniforms(g: PatchGeometry): ProgramUniform[] {
  const outH = g.inH - g.kh + 1;
  const outW = g.inW - g.kw + 1;
  return [g.inH, g.inW, g.cin, outH, outW, g.kh, g.kw, g.kh * g.kw * g.cin + 1].map((v) => ({ type: 'int32', data: [v] }));
}

/** True when these kernels can run (the active backend is webgpu with the expected internals). */
export function lockstepKernelsAvailable(): boolean {
  return webgpuInternals() !== undefined;
}

function gpu(): NonNullable<ReturnType<typeof webgpuInternals>> {
  const g = webgpuInternals();
  if (g === undefined) throw new Error('lockstep kernels need the webgpu backend');
  return g;
}

/** Patches [N·oh·ow, kh·kw·cin + 1] of x [N, H, W, cin] (see the file comment). Not differentiable by itself. */
export function im2colGpu(x: tf.Tensor4D, kh: number, kw: number): tf.Tensor2D {
  const [n, inH, inW, cin] = x.shape;
  const g = { n, inH, inW, cin, kh, kw };
  const rows = n * (inH - kh + 1) * (inW - kw + 1);
  return gpu().runProgram(new Im2colProgram([rows, kh * kw * cin + 1]), [x], patchUniforms(g)) as tf.Tensor2D;
}

/** dx [N, H, W, cin] from the patches' gradient [N·oh·ow, kh·kw·cin + 1] (its last column is ignored). */
export function col2imGpu(dpatches: tf.Tensor2D, g: PatchGeometry): tf.Tensor4D {
  return gpu().runProgram(new Col2imProgram([g.n, g.inH, g.inW, g.cin]), [dpatches], patchUniforms(g)) as tf.Tensor4D;
}

/** Σ_r x[g, r, f] for x [G, R, F]: shape [G, F]. */
export function groupRowSumsGpu(x: tf.Tensor3D): tf.Tensor2D {
  const [groups, rows, features] = x.shape;
  return gpu().runProgram(
    new GroupRowSumsProgram([groups, features]),
    [x],
    [
      { type: 'int32', data: [rows] },
      { type: 'int32', data: [features] },
    ],
  ) as tf.Tensor2D;
}

/** act(z + b[g]) ⊙ m (forward) for z [G, R, U], b [G, U], m like z or none; act is relu or the identity. */
export function groupedBiasForwardGpu(z: tf.Tensor3D, b: tf.Tensor2D, m: tf.Tensor3D | undefined, relu: boolean): tf.Tensor3D {
  return runGroupedBias(z, b, m, relu, undefined) as tf.Tensor3D;
}

/** ∂/∂z of `groupedBiasForwardGpu` given the output's gradient dy [G, R, U]. */
export function groupedBiasBackwardGpu(z: tf.Tensor3D, b: tf.Tensor2D, m: tf.Tensor3D | undefined, relu: boolean, dy: tf.Tensor): tf.Tensor3D {
  return runGroupedBias(z, b, m, relu, dy) as tf.Tensor3D;
}

function runGroupedBias(z: tf.Tensor3D, b: tf.Tensor2D, m: tf.Tensor3D | undefined, relu: boolean, dy: tf.Tensor | undefined): tf.Tensor {
  const [, rows, units] = z.shape;
  const inputs = [z, b, ...(m !== undefined ? [m] : []), ...(dy !== undefined ? [dy] : [])];
  return gpu().runProgram(new GroupedBiasProgram(z.shape, relu, m !== undefined, dy !== undefined), inputs, [
    { type: 'int32', data: [rows] },
    { type: 'int32', data: [units] },
  ]);
}
