/**
 * A model instance: a spec (layers and parameter layout) plus one tf.Variable per parameter, and the flat
 * weight codec every other part of the system (secure aggregation, checkpoints, the wire) speaks.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { forward, infer, paramSpecs, type ForwardOptions, type LayerSpec, type ParamSpec } from './layers.js';
import { MODEL_LAYERS, MODEL_NAMES, type ModelName } from './zoo.js';
import { checkParams, isModulePath, MODEL_FIX, registeredModel, registeredModelNames, type ForwardContext, type FunctionModelDefinition } from './registry.js';
import { ConfigError } from '../federated/errors.js';

/** One parameter's place in the flat weight vector. */
export interface LayoutEntry extends ParamSpec {
  /** Initial values (function models may ask for `zeros` or `ones`); default `uniform` over ±1/√fanIn. */
  init?: 'uniform' | 'zeros' | 'ones';
  /** Offset in floats. */
  offset: number;
  /** Number of floats. */
  size: number;
}

/** The forward pass of a function model over the parameter tensors in layout order. */
export type SpecForward = (params: readonly tf.Tensor[], x: tf.Tensor4D, opts: ForwardOptions) => tf.Tensor2D;

/** A model's architecture, independent of any weights. */
export interface ModelSpec {
  name: string;
  /** The layers of a layer model; empty for a function model (then `forward` is set). */
  layers: readonly LayerSpec[];
  /** The forward pass of a model defined as a function over weights (shared/models/registry.ts). */
  forward?: SpecForward;
  inputShape: [number, number, number];
  numClasses: number;
  /** Named layout of the flat weight vector, in order. */
  layout: LayoutEntry[];
  /** Total number of parameters (= length of the flat weight vector). */
  numParams: number;
}

/**
 * Builds the spec of a model for a given input shape (default 28×28×1, 10 classes): a zoo name, a name
 * registered with `registerModel`, or a module path loaded with `loadModelModule` (shared/models/registry.ts).
 */
export function modelSpec(name: string, inputShape: [number, number, number] = [28, 28, 1], numClasses = 10): ModelSpec {
  if ((MODEL_NAMES as readonly string[]).includes(name)) return layerSpec(name, MODEL_LAYERS[name as ModelName], inputShape, numClasses);
  const registered = registeredModel(name);
  if (registered === undefined) {
    if (isModulePath(name)) {
      throw new ConfigError(
        'model',
        `model "${name}" is a module path that is not loaded in this thread: load it first with \`await loadModelModule(${JSON.stringify(name)})\` (shared/models/registry.ts; runSimulation and its workers do this)`,
      );
    }
    const names = registeredModelNames();
    throw new ConfigError('model', `unknown model "${name}"; expected one of ${MODEL_NAMES.join(', ')}${names.length > 0 ? `, or a registered model (${names.join(', ')})` : ''}; ${MODEL_FIX}`);
  }
  const { def } = registered;
  if (def.inputShape !== undefined && def.inputShape.join('×') !== inputShape.join('×')) {
    throw new ConfigError(['model', 'dataset'], `model "${name}" takes ${def.inputShape.join('×')} inputs (height×width×channels); the dataset's images are ${inputShape.join('×')}`);
  }
  return registered.form === 'layers' ? layerSpec(name, registered.def.layers, inputShape, numClasses) : functionSpec(name, registered.def, inputShape, numClasses);
}

function withOffsets(params: readonly (ParamSpec & { init?: LayoutEntry['init'] })[]): { layout: LayoutEntry[]; numParams: number } {
  let offset = 0;
  const layout = params.map((p) => {
    const size = p.shape.reduce((a, b) => a * b, 1);
    const e = { ...p, offset, size };
    offset += size;
    return e;
  });
  return { layout, numParams: offset };
}

function layerSpec(name: string, base: readonly LayerSpec[], inputShape: [number, number, number], numClasses: number): ModelSpec {
  let last = -1;
  base.forEach((l, i) => {
    if (l.kind === 'dense') last = i;
  });
  // The last dense layer (only) emits one logit per class of the dataset.
  const layers = base.map((l, i) => (i === last && l.kind === 'dense' ? { ...l, units: numClasses } : l));
  return { name, layers, inputShape, numClasses, ...withOffsets(paramSpecs(layers, inputShape)) };
}

function functionSpec(name: string, def: FunctionModelDefinition, inputShape: [number, number, number], numClasses: number): ModelSpec {
  const where = `model "${name}"`;
  let decls: unknown;
  try {
    decls = typeof def.params === 'function' ? def.params({ inputShape: [...inputShape], numClasses }) : def.params;
  } catch (err) {
    throw new ConfigError('model', `${where}: params({ inputShape: [${inputShape.join(', ')}], numClasses: ${numClasses} }) threw: ${(err as Error).message}`);
  }
  const params = checkParams(decls, where);
  const names = params.map((p) => p.name);
  const shape: readonly [number, number, number] = [...inputShape];
  const forward: SpecForward = (tensors, x, opts) => {
    const training = opts.training === true;
    const seedBase = opts.dropoutSeed ?? Math.floor(Math.random() * 2 ** 31);
    let dropIndex = 0;
    const ctx: ForwardContext = {
      tf,
      training,
      inputShape: shape,
      numClasses,
      dropout: (h, rate, noiseShape) => {
        const seed = seedBase + 7919 * dropIndex++;
        if (!(rate >= 0 && rate < 1)) throw new RangeError(`${where}: dropout rate must be in [0, 1), got ${rate}`);
        return training && rate > 0 ? tf.dropout(h, rate, noiseShape, seed) : h;
      },
    };
    const p: Record<string, tf.Tensor> = {};
    names.forEach((n, i) => (p[n] = tensors[i]!));
    const out = def.forward(p, x, ctx) as tf.Tensor | undefined;
    if (!(out instanceof tf.Tensor)) throw new Error(`${where}: forward must return a tensor of logits [batch, ${numClasses}], got ${out === undefined ? 'undefined' : typeof out}`);
    if (out.rank !== 2 || out.shape[0] !== x.shape[0] || out.shape[1] !== numClasses) {
      throw new Error(`${where}: forward returned a tensor of shape [${out.shape.join(', ')}]; expected logits [batch = ${x.shape[0]}, classes = ${numClasses}]`);
    }
    return out as tf.Tensor2D;
  };
  return { name, layers: [], forward, inputShape, numClasses, ...withOffsets(params) };
}

/**
 * Seeded initial weights as one flat vector: U(−1/√fanIn, 1/√fanIn) for kernels and biases, PyTorch's
 * default for Conv2d and Linear, so the reference's learning rates carry over. Generated on the CPU by
 * tfjs's seeded generator, hence identical on every backend.
 */
export function initialWeights(spec: ModelSpec, seed: number): Float32Array {
  const flat = new Float32Array(spec.numParams);
  spec.layout.forEach((e, i) => {
    if (e.init === 'zeros' || e.init === 'ones') {
      flat.fill(e.init === 'ones' ? 1 : 0, e.offset, e.offset + e.size);
      return;
    }
    const bound = 1 / Math.sqrt(e.fanIn);
    const t = tf.randomUniform(e.shape, -bound, bound, 'float32', seed * 1009 + i);
    flat.set(t.dataSync() as Float32Array, e.offset);
    t.dispose();
  });
  return flat;
}

/** True when the active backend keeps tensors on tfjs-wasm's heap (wasm, native), which we may read without an intermediate copy. */
function onWasmHeap(): boolean {
  const b = tf.getBackend();
  return b === 'wasm' || b === 'native';
}

function wasmBackend(): BackendWasm | undefined {
  return onWasmHeap() ? (tf.backend() as unknown as BackendWasm) : undefined;
}

/** Copies a tensor's values into `out` at `offset` with exactly one copy on wasm and cpu. */
export function readInto(t: tf.Tensor, out: Float32Array, offset: number): void {
  const wasm = wasmBackend();
  if (wasm !== undefined) {
    out.set(wasm.typedArrayFromHeap(t) as Float32Array, offset);
  } else if (tf.getBackend() === 'cpu') {
    // The cpu backend's readSync hands back its own storage (no copy).
    out.set(tf.backend().readSync(t.dataId) as Float32Array, offset);
  } else {
    out.set(t.dataSync() as Float32Array, offset);
  }
}

/**
 * A tensor holding a copy of `values`. Only wasm (and native, on its heap) copies on write (into its heap); cpu and tfjs-node keep a
 * reference to the caller's array, so for them the copy is made here.
 */
export function tensorFrom(values: Float32Array, shape: number[]): tf.Tensor {
  return onWasmHeap() ? tf.tensor(values, shape) : tf.tensor(values.slice(), shape);
}

/** A model with its weights held as tf.Variables. Dispose it when done. */
export class Model {
  /** The architecture. */
  readonly spec: ModelSpec;
  /** One variable per layout entry, in layout order. */
  readonly params: tf.Variable[];
  /**
   * True while a trainer is running local training on this model (set by `trainLocal`). Functions that need
   * inference mode (Decent_BVA statistics) refuse the model while it is set.
   */
  training = false;

  /** Creates the model with the given flat weights (length spec.numParams). */
  constructor(spec: ModelSpec, weights: Float32Array) {
    this.spec = spec;
    checkLength(spec, weights);
    this.params = spec.layout.map((e) => tf.tidy(() => tf.variable(tensorFrom(weights.subarray(e.offset, e.offset + e.size), e.shape), true, undefined, 'float32')));
  }

  /** Logits with gradients available (plain ops); dropout only when opts.training. */
  logits(x: tf.Tensor4D, opts: ForwardOptions = {}): tf.Tensor2D {
    if (this.spec.forward !== undefined) return this.spec.forward(this.params, x, opts);
    return forward(this.spec.layers, this.params, x, opts);
  }

  /** Inference-mode logits through fused kernels (no gradients). */
  predictLogits(x: tf.Tensor4D): tf.Tensor2D {
    if (this.spec.forward !== undefined) return this.spec.forward(this.params, x, {});
    return infer(this.spec.layers, this.params, x);
  }

  /** The weights as one flat Float32Array (new, or `out` when given). */
  getWeights(out?: Float32Array): Float32Array {
    const flat = out ?? new Float32Array(this.spec.numParams);
    if (flat.length !== this.spec.numParams) throw new Error(`getWeights: out has ${flat.length} floats, model has ${this.spec.numParams}`);
    this.spec.layout.forEach((e, i) => readInto(this.params[i]!, flat, e.offset));
    return flat;
  }

  /** Replaces the weights from one flat vector (copied once into the backend). */
  setWeights(weights: Float32Array): void {
    checkLength(this.spec, weights);
    this.spec.layout.forEach((e, i) => {
      const t = tensorFrom(weights.subarray(e.offset, e.offset + e.size), e.shape);
      this.params[i]!.assign(t);
      t.dispose();
    });
  }

  /** Frees the variables. */
  dispose(): void {
    for (const p of this.params) p.dispose();
  }
}

function checkLength(spec: ModelSpec, w: Float32Array): void {
  if (w.length !== spec.numParams) {
    throw new Error(`model ${spec.name} has ${spec.numParams} parameters; got a weight vector of ${w.length}`);
  }
  for (let i = 0; i < w.length; i++) {
    if (!Number.isFinite(w[i]!)) throw new Error(`model ${spec.name}: weight ${i} is ${w[i]} (not finite)`);
  }
}

/**
 * Builds the model of `spec` once and runs one zero image through it (inference and training mode), so that a
 * user-defined model that cannot run on the data fails here, with one error naming the field `model`, rather
 * than in every training task. Zoo models are not probed.
 */
export function probeModel(spec: ModelSpec): void {
  if ((MODEL_NAMES as readonly string[]).includes(spec.name)) return;
  let m: Model | undefined;
  try {
    m = new Model(spec, initialWeights(spec, 0));
    const model = m;
    tf.tidy(() => {
      const x = tf.zeros([1, ...spec.inputShape]) as tf.Tensor4D;
      model.predictLogits(x);
      tf.grad((xx: tf.Tensor) => tf.sum(model.logits(xx as tf.Tensor4D, { training: true, dropoutSeed: 1 })))(x);
    });
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError('model', `model "${spec.name}" does not run on ${spec.inputShape.join('×')} images with ${spec.numClasses} classes: ${(err as Error).message}`);
  } finally {
    m?.dispose();
  }
}

/** Convenience: a named model with seeded initial weights. */
export function createModel(name: string, seed: number, inputShape?: [number, number, number], numClasses?: number): Model {
  const spec = modelSpec(name, inputShape, numClasses);
  return new Model(spec, initialWeights(spec, seed));
}
