/**
 * The base of the project's WebGPU programs that give each output value one thread (the epilogues, the lockstep
 * kernels), in tfjs-webgpu's program format: a flat dispatch over `outputShape`, which tfjs splits into two or three
 * dimensions itself when it exceeds the device's per-dimension limit, and `index` is the value's row-major index.
 */
import type { WebGpuProgram } from './internals.js';

/** Threads per workgroup. */
const THREADS = 128;

/** A flat-dispatch program over `outputShape`, one thread per output value. */
export abstract class FlatProgram implements WebGpuProgram {
  abstract shaderKey: string;
  abstract variableNames: string[];
  abstract uniforms: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [THREADS, 1, 1];
  size = true;
  constructor(public outputShape: number[]) {
    this.dispatchLayout = { x: outputShape.map((_, i) => i) };
    this.dispatch = [Math.ceil(outputShape.reduce((a, d) => a * d, 1) / THREADS), 1, 1];
  }
  abstract getUserCode(): string;
}
