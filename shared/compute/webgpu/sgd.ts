/**
 * SGD with momentum (PyTorch's rule: v ← μ·v + g; w ← w − lr·v) as one WebGPU dispatch per two parameters that
 * updates the weights and the momentum buffers in place. tfjs needs four kernels per parameter for the same
 * (multiply, add, multiply, subtract) and a fresh buffer for each result; for cnn-mnist that was 32 of a training
 * step's ~110 dispatches. The arithmetic is the same, in float32 (the GPU may fuse μ·v + g into one FMA, which
 * differs from tfjs's two roundings in the last bit at most).
 */
import type * as tf from '@tensorflow/tfjs';
import { BUFFER_USAGE, webgpuInternals, type GpuBufferLike, type WebGpuInternals } from './internals.js';

const WORKGROUP = 64;
/**
 * Parameters per dispatch: three storage buffers each, and WebGPU's default device allows 8 per shader stage
 * (tfjs asks for no more), so two.
 */
const PER_DISPATCH = 2;

/** The shader for `slots` parameters (1 or 2): slot k updates w_k, v_k from g_k over its n_k elements. */
function shader(slots: number): string {
  const decl: string[] = [];
  const body: string[] = [];
  for (let k = 0; k < slots; k++) {
    decl.push(`@group(0) @binding(${3 * k}) var<storage, read_write> w${k} : array<f32>;
@group(0) @binding(${3 * k + 1}) var<storage, read_write> v${k} : array<f32>;
@group(0) @binding(${3 * k + 2}) var<storage, read> g${k} : array<f32>;`);
    body.push(`  if (i < params.n${k}) {
    let vi = params.mu * v${k}[i] + g${k}[i];
    v${k}[i] = vi;
    w${k}[i] = w${k}[i] - params.lr * vi;
  }`);
  }
  return /* wgsl */ `
struct Params { lr : f32, mu : f32, n0 : u32, n1 : u32 };
${decl.join('\n')}
@group(0) @binding(${3 * slots}) var<uniform> params : Params;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) id : vec3<u32>) {
  let i = id.x;
${body.join('\n')}
}`;
}

type Pipeline = { getBindGroupLayout(i: number): unknown };
interface Cache {
  device: unknown;
  /** By number of slots. */
  pipelines: Map<number, Pipeline>;
  /** Uniform buffers by "lr|mu|n0|n1" (a few per model; written once). */
  uniforms: Map<string, GpuBufferLike>;
}
let cache: Cache | undefined;

function pipelineFor(gpu: WebGpuInternals, slots: number): Pipeline {
  if (cache === undefined || cache.device !== gpu.device) cache = { device: gpu.device, pipelines: new Map(), uniforms: new Map() };
  let p = cache.pipelines.get(slots);
  if (p === undefined) {
    const module = gpu.device.createShaderModule({ code: shader(slots) });
    p = gpu.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    cache.pipelines.set(slots, p);
  }
  return p;
}

function uniformFor(gpu: WebGpuInternals, lr: number, mu: number, n0: number, n1: number): GpuBufferLike {
  const key = `${lr}|${mu}|${n0}|${n1}`;
  let u = cache!.uniforms.get(key);
  if (u === undefined) {
    u = gpu.device.createBuffer({ size: 16, usage: BUFFER_USAGE.UNIFORM | BUFFER_USAGE.COPY_DST });
    const data = new ArrayBuffer(16);
    new Float32Array(data, 0, 2).set([lr, mu]);
    new Uint32Array(data, 8, 2).set([n0, n1]);
    gpu.device.queue.writeBuffer(u, 0, data);
    cache!.uniforms.set(key, u);
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
  for (let first = 0; first < params.length; first += PER_DISPATCH) {
    const slots = Math.min(PER_DISPATCH, params.length - first);
    const pipeline = pipelineFor(gpu, slots);
    const sizes = [params[first]!.size, slots > 1 ? params[first + 1]!.size : 0];
    const bound = buffers.slice(first, first + slots).flat();
    const group = gpu.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [...bound, uniformFor(gpu, lr, mu, sizes[0]!, sizes[1]!)].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    const touched = [first, first + 1].slice(0, slots).flatMap((i) => [params[i]!, velocity[i]!, grads[i]!]);
    gpu.dispatchRaw(pipeline, group, Math.ceil(Math.max(sizes[0]!, sizes[1]!) / WORKGROUP), touched);
  }
  inPlaceSgdStats.applied++;
  return true;
}
