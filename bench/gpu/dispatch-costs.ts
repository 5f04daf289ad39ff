/**
 * `node dist/bench/gpu/dispatch-costs.js`: host cost of one GPU dispatch on the webgpu backend, split into its
 * parts, in microseconds per call (mean of 3,000 after warm-up): a whole small tfjs op (tf.add) as recorded, and
 * the Dawn calls each tfjs dispatch makes: a bind group, a uniform upload, the encoding, a submit. Tells whether a
 * dispatch-bound step is paying for tfjs's JavaScript or for Dawn and the driver. Prints one JSON line.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../shared/compute/backend.js';

const choice = await initBackend({ gpu: true, backend: 'webgpu' });
interface Buf {
  destroy(): void;
}
const g = globalThis as unknown as { GPUBufferUsage: Record<string, number> };
const device = (
  tf.backend() as unknown as {
    device: {
      createBuffer(d: object): Buf;
      createShaderModule(d: object): unknown;
      createComputePipeline(d: object): { getBindGroupLayout(i: number): unknown };
      createBindGroup(d: object): unknown;
      createCommandEncoder(): { beginComputePass(): { setPipeline(p: unknown): void; setBindGroup(i: number, b: unknown): void; dispatchWorkgroups(x: number): void; end(): void }; finish(): unknown };
      queue: { writeBuffer(b: Buf, o: number, d: ArrayBufferView): void; submit(c: unknown[]): void; onSubmittedWorkDone(): Promise<void> };
    };
  }
).device;
const U = g.GPUBufferUsage;
const N = 3000;
const results: Record<string, number> = {};
const time = (name: string, f: (n: number) => void): void => {
  f(100);
  const t0 = performance.now();
  f(N);
  results[name] = ((performance.now() - t0) / N) * 1000;
};

const a = tf.ones([64, 50]);
const b = tf.ones([50]);
time('tfjs add (recorded)', (n) => {
  for (let i = 0; i < n; i++) tf.tidy(() => tf.add(a, b)).dispose();
});
await tf.ones([1]).data();

const storage = [0, 1].map(() => device.createBuffer({ size: 4096, usage: U['STORAGE']! | U['COPY_DST']! }));
const uniform = device.createBuffer({ size: 64, usage: U['UNIFORM']! | U['COPY_DST']! });
const module = device.createShaderModule({
  code: `@group(0) @binding(0) var<storage, read_write> a : array<f32>;
@group(0) @binding(1) var<storage, read> b : array<f32>;
@group(0) @binding(2) var<uniform> u : vec4<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id : vec3<u32>) { a[id.x] = b[id.x] + u.x; }`,
});
const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
const layout = pipeline.getBindGroupLayout(0);
const entries = [storage[0]!, storage[1]!, uniform].map((buffer, binding) => ({ binding, resource: { buffer } }));
const data = new Float32Array(16);
time('createBindGroup (3 buffers)', (n) => {
  for (let i = 0; i < n; i++) device.createBindGroup({ layout, entries });
});
time('queue.writeBuffer 64 B', (n) => {
  for (let i = 0; i < n; i++) device.queue.writeBuffer(uniform, 0, data);
});
const group = device.createBindGroup({ layout, entries });
time('setPipeline+setBindGroup+dispatch', (n) => {
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  for (let i = 0; i < n; i++) {
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(1);
  }
  pass.end();
  device.queue.submit([enc.finish()]);
});
time('encoder+pass+finish+submit', (n) => {
  for (let i = 0; i < n; i++) {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(1);
    pass.end();
    device.queue.submit([enc.finish()]);
  }
});
await device.queue.onSubmittedWorkDone();
console.log(JSON.stringify({ backend: choice.name, adapter: choice.adapter ?? null, usPerCall: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, Number(v.toFixed(2))])) }));
