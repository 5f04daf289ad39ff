/**
 * SGD with momentum (PyTorch's rule: v ← μ·v + g; w ← w − lr·v) as one WebGPU dispatch per parameter that
 * updates the weights and the momentum buffer in place. tfjs needs four kernels per parameter for the same
 * (multiply, add, multiply, subtract) and a fresh buffer for each result; for cnn-mnist that was 32 of a training
 * step's ~110 dispatches. The arithmetic is the same, in float32 (the GPU may fuse μ·v + g into one FMA, which
 * differs from tfjs's two roundings in the last bit at most).
 */
import type * as tf from '@tensorflow/tfjs';
import { BUFFER_USAGE, webgpuInternals, type GpuBufferLike, type WebGpuInternals } from './webgpu-internals.js';

const WORKGROUP = 64;

const SHADER = /* wgsl */ `
struct Params { lr : f32, mu : f32, n : u32, pad : u32 };
@group(0) @binding(0) var<storage, read_write> w : array<f32>;
@group(0) @binding(1) var<storage, read_write> v : array<f32>;
@group(0) @binding(2) var<storage, read> g : array<f32>;
@group(0) @binding(3) var<uniform> params : Params;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) id : vec3<u32>) {
  let i = id.x;
  if (i >= params.n) { return; }
  let vi = params.mu * v[i] + g[i];
  v[i] = vi;
  w[i] = w[i] - params.lr * vi;
}`;

interface Cache {
  device: unknown;
  pipeline: { getBindGroupLayout(i: number): unknown };
  /** Uniform buffers by "lr|mu|n" (a few per model; written once). */
  uniforms: Map<string, GpuBufferLike>;
}
let cache: Cache | undefined;

function pipelineFor(gpu: WebGpuInternals): Cache {
  if (cache === undefined || cache.device !== gpu.device) {
    const module = gpu.device.createShaderModule({ code: SHADER });
    cache = { device: gpu.device, pipeline: gpu.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } }), uniforms: new Map() };
  }
  return cache;
}

function uniformFor(gpu: WebGpuInternals, c: Cache, lr: number, mu: number, n: number): GpuBufferLike {
  const key = `${lr}|${mu}|${n}`;
  let u = c.uniforms.get(key);
  if (u === undefined) {
    u = gpu.device.createBuffer({ size: 16, usage: BUFFER_USAGE.UNIFORM | BUFFER_USAGE.COPY_DST });
    const data = new ArrayBuffer(16);
    new Float32Array(data, 0, 2).set([lr, mu]);
    new Uint32Array(data, 8, 1)[0] = n;
    gpu.device.queue.writeBuffer(u, 0, data);
    c.uniforms.set(key, u);
  }
  return u;
}

/** How often `sgdMomentumInPlace` ran and declined (a shared buffer) since the process started. */
export const inPlaceSgdStats = { applied: 0, declined: 0 };

/**
 * Applies the momentum step to every parameter in place on the GPU. Returns false, having changed nothing,
 * when the backend is not webgpu or any weight or momentum buffer is shared with another tensor (writing it in
 * place would change that tensor too); the caller then takes tfjs's ops.
 */
export function sgdMomentumInPlace(params: readonly tf.Variable[], grads: readonly tf.Tensor[], velocity: readonly tf.Tensor[], lr: number, mu: number): boolean {
  const gpu = webgpuInternals();
  if (gpu === undefined) return false;
  const buffers: [GpuBufferLike, GpuBufferLike, GpuBufferLike][] = [];
  for (let i = 0; i < params.length; i++) {
    const p = params[i]!;
    const g = grads[i]!;
    const v = velocity[i]!;
    if (g.size !== p.size || v.size !== p.size) throw new Error(`sgdMomentumInPlace: parameter ${i} has ${p.size} values, gradient ${g.size}, momentum ${v.size}`);
    const wb = gpu.exclusiveBuffer(p);
    const vb = gpu.exclusiveBuffer(v);
    const gb = gpu.buffer(g);
    if (wb === undefined || vb === undefined || gb === undefined) {
      inPlaceSgdStats.declined++;
      return false;
    }
    buffers.push([wb, vb, gb]);
  }
  const c = pipelineFor(gpu);
  const layout = c.pipeline.getBindGroupLayout(0);
  for (let i = 0; i < params.length; i++) {
    const [wb, vb, gb] = buffers[i]!;
    const n = params[i]!.size;
    const group = gpu.device.createBindGroup({
      layout,
      entries: [wb, vb, gb, uniformFor(gpu, c, lr, mu, n)].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    gpu.dispatchRaw(c.pipeline, group, Math.ceil(n / WORKGROUP), [params[i]!, velocity[i]!, grads[i]!]);
  }
  inPlaceSgdStats.applied++;
  return true;
}
