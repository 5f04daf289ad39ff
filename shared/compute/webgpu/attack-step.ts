/**
 * The L∞ attack step x' = min(max(x + α·sign(g), lo), hi) as one WebGPU dispatch. tfjs takes four kernels for
 * FGSM's (sign, multiply, add, clip) and five for a PGD step with its projection (sign, multiply, add, maximum,
 * minimum); strong PGD runs 200 such steps per batch. The arithmetic is tfjs's, in the same order: α·sign(g) is
 * exact, so a fused multiply-add changes nothing, and the result agrees bit for bit.
 */
import type * as tf from '@tensorflow/tfjs';
import { FlatProgram } from './flat-program.js';
import { webgpuInternals } from './internals.js';

class AttackStepProgram extends FlatProgram {
  shaderKey: string;
  variableNames: string[];
  uniforms = 'alpha : f32, lo : f32, hi : f32,';
  constructor(
    outputShape: number[],
    private readonly boundTensors: boolean,
  ) {
    super(outputShape);
    this.shaderKey = `rfl_attack_step_${boundTensors ? 'tensor' : 'scalar'}_bounds`;
    this.variableNames = boundTensors ? ['X', 'G', 'LO', 'HI'] : ['X', 'G'];
  }
  getUserCode(): string {
    const [lo, hi] = this.boundTensors ? ['LO[index]', 'HI[index]'] : ['uniforms.lo', 'uniforms.hi'];
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          result[index] = min(max(X[index] + sign(G[index]) * uniforms.alpha, ${lo}), ${hi});
        }
      }`;
  }
}

/**
 * min(max(x + α·sign(g), lo), hi) with lo, hi numbers or tensors of x's shape; undefined where the fused kernel
 * is unavailable (not webgpu), for the caller to use tfjs's ops. Not differentiable (attacks need no gradient of
 * their own step).
 */
export function attackStep(x: tf.Tensor, g: tf.Tensor, alpha: number, lo: number | tf.Tensor, hi: number | tf.Tensor): tf.Tensor | undefined {
  const gpu = webgpuInternals();
  if (gpu === undefined) return undefined;
  let inputs: tf.Tensor[];
  let bounds: number[];
  if (typeof lo === 'number' && typeof hi === 'number') {
    inputs = [x, g];
    bounds = [lo, hi];
  } else if (typeof lo !== 'number' && typeof hi !== 'number') {
    inputs = [x, g, lo, hi];
    bounds = [0, 0];
  } else {
    return undefined;
  }
  return gpu.runProgram(
    new AttackStepProgram(x.shape, inputs.length === 4),
    inputs,
    [alpha, ...bounds].map((v) => ({ type: 'float32' as const, data: [v] })),
  );
}
