/**
 * relu(maxPool(x)) with a size × size window and stride `size` ('valid'), as one WebGPU dispatch forward and one
 * backward. tfjs takes two forward (pool, relu) and four backward (relu's step and product, a second pooling
 * pass for the argmax positions, the scatter), and cnn-mnist has two such blocks.
 *
 * Backward: an input element receives its window's output gradient when it is the window's first maximum in
 * row-major order (tfjs's choice) and that maximum is positive (relu's gradient at 0 is 0 in tfjs); else 0.
 */
import * as tf from '@tensorflow/tfjs';
import { webgpuInternals, type ProgramUniform, type WebGpuProgram } from './webgpu-internals.js';

const UNIFORMS = 'inH : i32, inW : i32, channels : i32, outH : i32, outW : i32, window : i32,';
const THREADS = 128;

// Max and first argmax (flat input index) of the window of output element (b, oi, oj, c).
const WINDOW = /* wgsl */ `
struct WindowMax { value : f32, at : i32 };
fn windowMax(b : i32, oi : i32, oj : i32, c : i32) -> WindowMax {
  let s = uniforms.window;
  var best = -3.402823e38;
  var at = -1;
  for (var di = 0; di < s; di++) {
    for (var dj = 0; dj < s; dj++) {
      let k = ((b * uniforms.inH + oi * s + di) * uniforms.inW + oj * s + dj) * uniforms.channels + c;
      let v = X[k];
      if (v > best || at < 0) { best = v; at = k; }
    }
  }
  return WindowMax(best, at);
}`;

/** One thread per output element: the pooled value (forward) or an input element's gradient (backward). */
class PoolReluProgram implements WebGpuProgram {
  shaderKey: string;
  dispatchLayout = { x: [0, 1, 2, 3] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [THREADS, 1, 1];
  variableNames: string[];
  uniforms = UNIFORMS;
  size = true;
  constructor(public outputShape: number[], private readonly backward: boolean) {
    this.shaderKey = backward ? 'rfl_maxpool_relu_grad' : 'rfl_maxpool_relu';
    this.variableNames = backward ? ['X', 'DY'] : ['X'];
    this.dispatch = [Math.ceil(outputShape.reduce((a, d) => a * d, 1) / THREADS), 1, 1];
  }
  getUserCode(): string {
    // (b, row, column, channel) of this thread's element of the output (forward) or of the input (backward).
    const [rows, cols] = this.backward ? ['inH', 'inW'] : ['outH', 'outW'];
    const body = this.backward
      ? `let oi = i / uniforms.window;
          let oj = j / uniforms.window;
          var g = 0.0;
          if (oi < uniforms.outH && oj < uniforms.outW) {
            let m = windowMax(b, oi, oj, c);
            if (m.value > 0.0 && m.at == index) {
              g = DY[((b * uniforms.outH + oi) * uniforms.outW + oj) * uniforms.channels + c];
            }
          }
          result[index] = g;`
      : 'result[index] = max(windowMax(b, i, j, c).value, 0.0);';
    return `
      ${WINDOW}
      fn main(index : i32) {
        if (index < uniforms.size) {
          let c = index % uniforms.channels;
          let j = (index / uniforms.channels) % uniforms.${cols};
          let i = (index / (uniforms.channels * uniforms.${cols})) % uniforms.${rows};
          let b = index / (uniforms.channels * uniforms.${cols} * uniforms.${rows});
          ${body}
        }
      }`;
  }
}

/** True when the fused kernel can run (the active backend is webgpu with the expected internals). */
export function fusedPoolReluAvailable(): boolean {
  return webgpuInternals() !== undefined;
}

/** relu(maxPool(x, size, stride size, 'valid')), differentiable; only on webgpu (see `fusedPoolReluAvailable`). */
export function maxPoolRelu(x: tf.Tensor4D, size: number): tf.Tensor4D {
  const gpu = webgpuInternals();
  if (gpu === undefined) throw new Error('maxPoolRelu needs the webgpu backend');
  const [b, h, w, c] = x.shape;
  const oh = Math.floor((h - size) / size) + 1;
  const ow = Math.floor((w - size) / size) + 1;
  if (!(oh >= 1 && ow >= 1)) throw new Error(`maxPoolRelu: a ${size}×${size} window does not fit a ${h}×${w} input`);
  const uniforms: ProgramUniform[] = [h, w, c, oh, ow, size].map((v) => ({ type: 'int32', data: [v] }));
  const op = tf.customGrad(((xi: tf.Tensor, save: tf.GradSaveFunc) => {
    save([xi]);
    return {
      value: gpu.runProgram(new PoolReluProgram([b, oh, ow, c], false), [xi], uniforms),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => gpu.runProgram(new PoolReluProgram([b, h, w, c], true), [saved[0]!, dy], uniforms),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor) => tf.Tensor4D;
  return op(x);
}
