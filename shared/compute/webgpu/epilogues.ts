/**
 * What follows a convolution or a dense product in a training forward pass, fused into one WebGPU dispatch
 * forward and one (plus the bias sum) backward:
 * - conv epilogue: relu(maxPool((x + bias) ⊙ mask)), mask an optional per-(example, channel) dropout multiplier;
 *   tfjs: add, multiply, pool, relu forward; relu's step and product, a pooling pass for the argmax, the scatter,
 *   the mask's product and a two-kernel bias sum backward.
 * - dense epilogue: relu(z + bias) ⊙ mask, mask an optional per-element dropout multiplier.
 * Input-gradient passes (attacks) use them too, without masks and without the bias gradient.
 * The forward values are the same float32 operations in the same order as tfjs's ops (add, multiply, max, relu),
 * so they agree bit for bit; gradients follow tfjs's conventions (the first maximum of a window in row-major order
 * takes the gradient, relu's gradient at 0 is 0). The bias gradient is Σ over rows of the pre-bias gradient,
 * one product with a row of ones (bias-add-grad.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { columnSums } from './bias-add-grad.js';
import { FlatProgram } from './flat-program.js';
import { webgpuInternals, type ProgramUniform } from './internals.js';

const CONV_UNIFORMS = 'inH : i32, inW : i32, channels : i32, outH : i32, outW : i32, window : i32,';

class ConvEpilogueProgram extends FlatProgram {
  shaderKey: string;
  variableNames: string[];
  uniforms = CONV_UNIFORMS;
  constructor(
    outputShape: number[],
    private readonly biased: boolean,
    private readonly masked: boolean,
    private readonly backward: boolean,
  ) {
    super(outputShape);
    this.shaderKey = `rfl_conv_epilogue_${biased ? 'b' : ''}${masked ? 'm' : ''}_${backward ? 'grad' : 'fwd'}`;
    this.variableNames = ['X', ...(biased ? ['B'] : []), ...(masked ? ['M'] : []), ...(backward ? ['DY'] : [])];
  }
  getUserCode(): string {
    const scale = this.masked ? 'M[b * uniforms.channels + c]' : '1.0';
    const [rows, cols] = this.backward ? ['inH', 'inW'] : ['outH', 'outW'];
    const body = this.backward
      ? `let oi = i / uniforms.window;
          let oj = j / uniforms.window;
          var g = 0.0;
          if (oi < uniforms.outH && oj < uniforms.outW) {
            let m = windowMax(b, oi, oj, c);
            if (m.value > 0.0 && m.at == index) {
              g = DY[((b * uniforms.outH + oi) * uniforms.outW + oj) * uniforms.channels + c] * ${scale};
            }
          }
          result[index] = g;`
      : 'result[index] = max(windowMax(b, i, j, c).value, 0.0);';
    return `
      struct WindowMax { value : f32, at : i32 };
      // Max over the window of output (b, oi, oj, c) of (x + bias) * mask, and the flat input index of its first
      // occurrence in row-major order.
      fn windowMax(b : i32, oi : i32, oj : i32, c : i32) -> WindowMax {
        let s = uniforms.window;
        var best = 0.0;
        var at = -1;
        for (var di = 0; di < s; di++) {
          for (var dj = 0; dj < s; dj++) {
            let k = ((b * uniforms.inH + oi * s + di) * uniforms.inW + oj * s + dj) * uniforms.channels + c;
            let v = ${this.biased ? '(X[k] + B[c])' : 'X[k]'} * ${scale};
            if (at < 0 || v > best) { best = v; at = k; }
          }
        }
        return WindowMax(best, at);
      }
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

class DenseEpilogueProgram extends FlatProgram {
  shaderKey: string;
  variableNames: string[];
  uniforms = 'units : i32,';
  constructor(
    outputShape: number[],
    private readonly masked: boolean,
    private readonly backward: boolean,
  ) {
    super(outputShape);
    this.shaderKey = `rfl_dense_epilogue_${masked ? 'masked' : 'plain'}_${backward ? 'grad' : 'fwd'}`;
    this.variableNames = ['Z', 'B', ...(masked ? ['M'] : []), ...(backward ? ['DY'] : [])];
  }
  getUserCode(): string {
    const mask = this.masked ? ' * M[index]' : '';
    const body = this.backward
      ? `var g = 0.0;
          if (Z[index] + B[index % uniforms.units] > 0.0) { g = DY[index]${mask}; }
          result[index] = g;`
      : `result[index] = max(Z[index] + B[index % uniforms.units], 0.0)${mask};`;
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${body}
        }
      }`;
  }
}

/** True when the fused kernels can run (the active backend is webgpu with the expected internals). */
export function fusedEpiloguesAvailable(): boolean {
  return webgpuInternals() !== undefined;
}

type Op = (...inputs: tf.Tensor[]) => tf.Tensor;

/**
 * relu(maxPool((x + bias) ⊙ mask, size, stride size, 'valid')) for x [batch, H, W, channels], bias [channels] (or
 * none) and mask [batch, channels] (or none); differentiable in x and, unless `biasGradient` is false, in bias.
 * Input-gradient passes (attacks) set it false: a custom gradient computes every input's gradient, and theirs
 * would be wasted work (a placeholder scalar stands in, which tfjs's tape refuses if it is ever asked for).
 * Webgpu only (`fusedEpiloguesAvailable`).
 */
export function convEpilogue(x: tf.Tensor4D, bias: tf.Tensor1D | undefined, mask: tf.Tensor2D | undefined, size: number, biasGradient = true): tf.Tensor4D {
  const gpu = webgpuInternals();
  if (gpu === undefined) throw new Error('convEpilogue needs the webgpu backend');
  const [b, h, w, c] = x.shape;
  const oh = Math.floor((h - size) / size) + 1;
  const ow = Math.floor((w - size) / size) + 1;
  if (!(oh >= 1 && ow >= 1)) throw new Error(`convEpilogue: a ${size}×${size} window does not fit a ${h}×${w} input`);
  const uniforms: ProgramUniform[] = [h, w, c, oh, ow, size].map((v) => ({ type: 'int32', data: [v] }));
  const biased = bias !== undefined;
  const masked = mask !== undefined;
  const inputs = [x, ...(biased ? [bias] : []), ...(masked ? [mask] : [])];
  const op = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const xs = args as tf.Tensor[];
    save(xs);
    return {
      value: gpu.runProgram(new ConvEpilogueProgram([b, oh, ow, c], biased, masked, false), xs, uniforms),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const dx = gpu.runProgram(new ConvEpilogueProgram([b, h, w, c], biased, masked, true), [...saved, dy], uniforms);
        // The mask is data: a placeholder scalar stands in for its gradient (tfjs's tape would refuse its shape).
        const db = biasGradient ? columnSums(tf.reshape(dx, [b * h * w, c]) as tf.Tensor2D) : tf.scalar(0);
        return [dx, ...(biased ? [db] : []), ...(masked ? [tf.scalar(0)] : [])];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as Op;
  return op(...inputs) as tf.Tensor4D;
}

/**
 * relu(z + bias) ⊙ mask for z [rows, units], bias [units] and mask [rows, units] (or none); differentiable in z
 * and, unless `biasGradient` is false (as for `convEpilogue`), in bias. Webgpu only (`fusedEpiloguesAvailable`).
 */
export function denseEpilogue(z: tf.Tensor2D, bias: tf.Tensor1D, mask: tf.Tensor2D | undefined, biasGradient = true): tf.Tensor2D {
  const gpu = webgpuInternals();
  if (gpu === undefined) throw new Error('denseEpilogue needs the webgpu backend');
  const [rows, units] = z.shape;
  const uniforms: ProgramUniform[] = [{ type: 'int32', data: [units] }];
  const masked = mask !== undefined;
  const op = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const inputs = args as tf.Tensor[];
    save(inputs);
    return {
      value: gpu.runProgram(new DenseEpilogueProgram([rows, units], masked, false), inputs, uniforms),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const dz = gpu.runProgram(new DenseEpilogueProgram([rows, units], masked, true), [...saved, dy], uniforms) as tf.Tensor2D;
        return [dz, biasGradient ? columnSums(dz) : tf.scalar(0), ...(masked ? [tf.scalar(0)] : [])];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as Op;
  return (masked ? op(z, bias, mask) : op(z, bias)) as tf.Tensor2D;
}
