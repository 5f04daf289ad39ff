/**
 * The parts of tfjs-backend-webgpu (4.22) that our fused WebGPU kernels use, typed, and checked once.
 *
 * Why reach inside: on an H200 a cnn-mnist training step was about 110 tfjs kernels at ~85 µs of host time each
 * (binding, uniforms, encoding), while the GPU worked ~1 ms. The fused kernels cut the count by doing in one
 * dispatch what tfjs does in many (cross-entropy and its gradient; the momentum update in place). Two ways in:
 * - `runProgram`: a program in tfjs's own format (its shader prelude, pipeline cache and buffer pool), for ops
 *   that produce a new tensor;
 * - `dispatchRaw`: our own pipeline recorded into tfjs's command stream, for updates in place, which tfjs's
 *   program format cannot express (its inputs are read-only and a buffer may not be bound twice).
 * When an expected member is missing (another tfjs version), `webgpuInternals()` returns undefined and callers
 * keep tfjs's plain ops, so a version change costs speed, never correctness.
 */
import * as tf from '@tensorflow/tfjs';

/** A GPU buffer as tfjs-webgpu's tensor map holds it (structural; no @webgpu/types in our build). */
export interface GpuBufferLike {
  size: number;
}

/** What a tensor's entry in the backend's map holds. */
interface TensorData {
  values: unknown;
  refCount: number;
  resource: GpuBufferLike | null;
  external?: boolean;
}

/** A program in tfjs-webgpu's format: it generates the bindings, uniforms and `_start` around `getUserCode()`. */
export interface WebGpuProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[]; y?: number[]; z?: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  variableNames: string[];
  uniforms?: string;
  size?: boolean;
  getUserCode(): string;
}

/** A uniform value appended after tfjs's own uniforms (in the order of `program.uniforms`). */
export interface ProgramUniform {
  type: 'int32' | 'float32' | 'uint32';
  data: number[];
}

interface Pass {
  setPipeline(p: unknown): void;
  setBindGroup(i: number, g: unknown): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  end(): void;
}

interface Device {
  createShaderModule(d: { code: string }): unknown;
  createComputePipeline(d: { layout: 'auto'; compute: { module: unknown; entryPoint: string } }): { getBindGroupLayout(i: number): unknown };
  createBindGroup(d: { layout: unknown; entries: { binding: number; resource: { buffer: GpuBufferLike } }[] }): unknown;
  createBuffer(d: { size: number; usage: number }): GpuBufferLike;
  queue: { writeBuffer(b: GpuBufferLike, offset: number, data: ArrayBuffer | ArrayBufferView): void };
}

/** The backend members used here. */
interface Backend {
  device: Device;
  tensorMap: { get(id: tf.DataId): TensorData | undefined };
  commandEncoder: { beginComputePass(d: object): Pass } | null;
  computePassEncoder: Pass | null;
  dispatchCountInPass: number;
  commandQueueOwnedIds: WeakSet<object>;
  uploadToGPU(id: tf.DataId): void;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  runWebGPUProgram(p: WebGpuProgram, inputs: tf.TensorInfo[], dtype: tf.DataType, uniforms?: ProgramUniform[]): tf.TensorInfo;
  makeTensorInfo(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

const METHODS = ['uploadToGPU', 'ensureCommandEncoderReady', 'endComputePassEncoder', 'submitQueue', 'runWebGPUProgram', 'makeTensorInfo'] as const;
const checked = new WeakMap<object, boolean>();

/** GPUBufferUsage values (WebGPU spec), for the one buffer kind we create. */
export const BUFFER_USAGE = { UNIFORM: 0x40, COPY_DST: 0x8 } as const;

/** Access to the active webgpu backend's internals, or undefined when the backend is not webgpu or differs. */
export function webgpuInternals(): WebGpuInternals | undefined {
  if (tf.getBackend() !== 'webgpu') return undefined;
  const b = tf.backend() as unknown as Backend;
  let ok = checked.get(b);
  if (ok === undefined) {
    ok =
      METHODS.every((m) => typeof (b as unknown as Record<string, unknown>)[m] === 'function') &&
      b.device !== undefined &&
      b.tensorMap !== undefined &&
      b.commandQueueOwnedIds instanceof WeakSet &&
      typeof b.dispatchCountInPass === 'number';
    checked.set(b, ok);
  }
  return ok ? new WebGpuInternals(b) : undefined;
}

/** A thin handle on the backend; cheap to create per call. */
export class WebGpuInternals {
  constructor(private readonly b: Backend) {}

  get device(): Device {
    return this.b.device;
  }

  /** Runs a program in tfjs's format; the result is a tensor owned by the current scope. */
  runProgram(p: WebGpuProgram, inputs: tf.Tensor[], uniforms?: ProgramUniform[]): tf.Tensor {
    const info = this.b.runWebGPUProgram(p, inputs, 'float32', uniforms);
    return tf.engine().makeTensorFromTensorInfo(info);
  }

  /**
   * A float32 tensor holding `values`, written with `queue.writeBuffer` into a buffer from tfjs's pool. tfjs's own
   * upload of CPU values creates a fresh mapped staging buffer each time, which on the H200 host cost about
   * 0.3 ms per upload; a dropout mask per layer per step made that a tenth of a training step. The write is
   * ordered before any command submitted later, and a pooled buffer is never referenced by unsubmitted commands
   * (tfjs defers releasing those until submit), so later kernels read the new values.
   */
  upload(values: Float32Array, shape: number[]): tf.Tensor {
    const info = this.b.makeTensorInfo(shape, 'float32');
    this.b.uploadToGPU(info.dataId);
    const d = this.b.tensorMap.get(info.dataId);
    if (d?.resource === null || d?.resource === undefined) throw new Error('webgpu upload: tfjs allocated no buffer');
    this.b.device.queue.writeBuffer(d.resource, 0, values);
    return tf.engine().makeTensorFromTensorInfo(info);
  }

  /**
   * The GPU buffer of `t` when `t` alone owns it (no other tensor shares its data), so that writing it in place
   * changes nothing but `t`; undefined otherwise. The CPU copy tfjs caches after a read is dropped, as the
   * caller is about to change the GPU copy.
   */
  exclusiveBuffer(t: tf.Tensor): GpuBufferLike | undefined {
    const d = this.b.tensorMap.get(t.dataId);
    if (d === undefined || d.refCount !== 1 || d.external === true || t.dtype !== 'float32') return undefined;
    this.b.uploadToGPU(t.dataId);
    if (d.resource === null || typeof d.resource.size !== 'number') return undefined;
    d.values = null;
    return d.resource;
  }

  /** The GPU buffer of `t` for reading (uploaded first if it lives on the CPU). */
  buffer(t: tf.Tensor): GpuBufferLike | undefined {
    const d = this.b.tensorMap.get(t.dataId);
    if (d === undefined || t.dtype !== 'float32') return undefined;
    this.b.uploadToGPU(t.dataId);
    return d.resource ?? undefined;
  }

  /**
   * Records one dispatch of our own pipeline into tfjs's command stream, in order with its kernels. The tensors
   * it touches are marked as owned by the pending commands, so that tfjs does not recycle their buffers (or
   * overwrite them with a queued upload) before the commands are submitted; and tfjs's batching of submits is
   * kept (WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE).
   */
  dispatchRaw(pipeline: unknown, bindGroup: unknown, workgroups: number, touched: tf.Tensor[]): void {
    const b = this.b;
    b.ensureCommandEncoderReady();
    if (b.computePassEncoder === null || b.computePassEncoder === undefined) b.computePassEncoder = b.commandEncoder!.beginComputePass({});
    b.computePassEncoder.setPipeline(pipeline);
    b.computePassEncoder.setBindGroup(0, bindGroup);
    b.computePassEncoder.dispatchWorkgroups(workgroups, 1, 1);
    for (const t of touched) b.commandQueueOwnedIds.add(t.dataId);
    b.dispatchCountInPass++;
    if (tf.env().getNumber('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE') <= b.dispatchCountInPass) {
      b.endComputePassEncoder();
      b.submitQueue();
    }
  }
}
