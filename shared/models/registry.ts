/**
 * Models beyond the zoo: `registerModel(name, definition)` adds a model that every thread which registered it can
 * build by name, and `loadModelModule(path)` registers the default export of a JavaScript module under that
 * module's path, so a configuration's `model` may be `./my-model.js`.
 *
 * A definition is either a list of layer specs (the zoo's language, shared/models/layers.ts) or a function over
 * weights: a parameter layout (names, shapes, initialisation fan-in) and `forward(params, x, ctx)` returning
 * logits, built from the tfjs instance `ctx.tf` (so a user module needs no import). Parameters stay one flat
 * Float32Array in layout order (shared/models/model.ts), which is what secure aggregation, the wire and the
 * checkpoints carry. Gradients come from tfjs's tape over `forward`, for training (parameter gradients) and for
 * attacks and Decent_BVA (input gradients) alike.
 *
 * Registrations are per thread: a worker thread must load the same module (the simulation pool does, from the
 * paths it is given). Docs: docs/own-model.md.
 */
import type * as tfType from '@tensorflow/tfjs';
import { ConfigError } from '../federated/errors.js';
import type { LayerSpec } from './layers.js';
import { MODEL_NAMES } from './zoo.js';

/** One parameter of a function model, in layout order. */
export interface ParamDecl {
  /** Unique name; `forward` receives the tensor under this key. */
  name: string;
  /** Shape (positive integers), e.g. [3, 3, 3, 16] for a 3×3 convolution from 3 to 16 channels (HWIO). */
  shape: readonly number[];
  /**
   * Fan-in for the initialisation U(−1/√fanIn, 1/√fanIn) (PyTorch's default for Conv2d and Linear). Default: the
   * product of all dimensions but the last for a parameter of two or more dimensions (a kernel), and the fan-in
   * of the nearest preceding kernel for a one-dimensional parameter (its bias); 1 when there is none.
   */
  fanIn?: number;
  /** Initial values: `uniform` (default, see fanIn), `zeros` or `ones` (e.g. a normalisation's scale). */
  init?: 'uniform' | 'zeros' | 'ones';
}

/** A parameter declaration with its defaults filled. */
export interface CheckedParam {
  name: string;
  shape: number[];
  fanIn: number;
  init: 'uniform' | 'zeros' | 'ones';
}

/** What `forward` receives besides the parameters and the input. */
export interface ForwardContext {
  /** The tfjs instance the model runs on: build everything from it. */
  tf: typeof tfType;
  /** True during local training (dropout on); false for inference, attacks and Decent_BVA statistics. */
  training: boolean;
  /** The input shape [height, width, channels] of the dataset. */
  inputShape: readonly [number, number, number];
  /** Number of classes: the logits' second dimension. */
  numClasses: number;
  /**
   * Seeded dropout: `x` scaled by 1/(1 − rate) with a fraction `rate` zeroed while training, the identity
   * otherwise. Each call in a pass draws its own mask from the pass's seed, so training stays reproducible.
   * `noiseShape` as tf.dropout's (e.g. [batch, 1, 1, channels] for channel dropout).
   */
  dropout(x: tfType.Tensor, rate: number, noiseShape?: number[]): tfType.Tensor;
}

/** The shape facts a parameter layout may depend on. */
export interface ModelShape {
  /** [height, width, channels] of the dataset's images. */
  inputShape: [number, number, number];
  /** Number of classes of the dataset. */
  numClasses: number;
}

/** A model as a function over weights. */
export interface FunctionModelDefinition {
  /** One line for listings. */
  description?: string;
  /** The input shape the model needs; checked against the dataset's (default: any). */
  inputShape?: readonly [number, number, number];
  /** The parameters in layout order: a list, or a function of the dataset's shape. */
  params: readonly ParamDecl[] | ((shape: ModelShape) => readonly ParamDecl[]);
  /**
   * Logits [batch, numClasses] of a batch x [batch, height, width, channels] (NHWC, pixels in [0, 1]). Use only
   * tfjs ops on `params` and `x` (no reading values back, no tf.tidy needed) so that gradients flow.
   */
  forward(params: Readonly<Record<string, tfType.Tensor>>, x: tfType.Tensor4D, ctx: ForwardContext): tfType.Tensor;
}

/** A model as a list of layer specs (the zoo's language); the last dense layer gets one unit per class. */
export interface LayerModelDefinition {
  description?: string;
  inputShape?: readonly [number, number, number];
  layers: readonly LayerSpec[];
}

/** Any model definition: a function over weights, a layer list, or a bare layer list. */
export type ModelDefinition = FunctionModelDefinition | LayerModelDefinition | readonly LayerSpec[];

/** A definition with its form made explicit. */
export type ResolvedDefinition = { form: 'function'; def: FunctionModelDefinition } | { form: 'layers'; def: LayerModelDefinition };

const registry = new Map<string, ResolvedDefinition>();

const LAYER_KINDS = new Set(['conv', 'maxpool', 'relu', 'tanh', 'flatten', 'dense', 'dropout', 'channel-dropout']);

/** How to give a model, for error messages. */
export const MODEL_FIX = `give model one of ${MODEL_NAMES.join(', ')}, a name registered with registerModel (from a module listed in extensions), or the path of a JavaScript module whose default export is a model definition (e.g. ./my-model.js; see docs/own-model.md)`;

/** True when `name` is written as a module path (a slash, or a .js/.mjs/.cjs ending) rather than a name. */
export function isModulePath(name: string): boolean {
  return /[\\/]/.test(name) || /\.(c|m)?js$/i.test(name);
}

/**
 * How a module path becomes the absolute path it is registered under. Node's (path.resolve) is installed by
 * module-loader.ts, the only place that registers module paths; this module stays free of Node built-ins so that
 * the browser client's bundle can use the model zoo.
 */
let resolveModulePath = (name: string): string => name;

/** Installs the resolver of module paths (module-loader.ts). */
export function setModulePathResolver(resolve: (name: string) => string): void {
  resolveModulePath = resolve;
}

/** Registers a checked definition under a module's absolute path (module-loader.ts). */
export function registerModuleDefinition(abs: string, def: ResolvedDefinition): void {
  registry.set(abs, def);
}

/** Whether a module path is registered already. */
export function isRegistered(name: string): boolean {
  return registry.has(name);
}

/**
 * Checks a definition's form and returns it tagged; throws an Error saying what is wrong (`where` names the
 * source, e.g. `registerModel("x")` or the module's path).
 */
export function checkModelDefinition(def: unknown, where: string): ResolvedDefinition {
  const fail = (why: string): never => {
    throw new ConfigError(
      'model',
      `${where}: ${why}; a model definition is { params, forward(params, x, ctx) } (a function over weights) or { layers: [...] } or a list of layer specs (see docs/own-model.md)`,
    );
  };
  if (Array.isArray(def)) return { form: 'layers', def: { layers: checkLayers(def, fail) } };
  if (def === null || typeof def !== 'object') return fail(`expected an object, got ${def === null ? 'null' : typeof def}`);
  const d = def as Record<string, unknown>;
  if (d['inputShape'] !== undefined) {
    const s = d['inputShape'];
    if (!Array.isArray(s) || s.length !== 3 || !s.every((v) => Number.isInteger(v) && v >= 1)) fail(`inputShape must be [height, width, channels] (positive integers), got ${JSON.stringify(s)}`);
  }
  if ('layers' in d) {
    if ('forward' in d) fail('give either layers or forward, not both');
    if (!Array.isArray(d['layers'])) fail('layers must be a list of layer specs');
    return { form: 'layers', def: { ...(d as unknown as LayerModelDefinition), layers: checkLayers(d['layers'] as unknown[], fail) } };
  }
  if (typeof d['forward'] !== 'function') fail(`forward must be a function (params, x, ctx) => logits, got ${typeof d['forward']}`);
  if (!Array.isArray(d['params']) && typeof d['params'] !== 'function') fail(`params must be a list of { name, shape } or a function ({ inputShape, numClasses }) => list, got ${typeof d['params']}`);
  if (Array.isArray(d['params'])) checkParams(d['params'], where);
  return { form: 'function', def: d as unknown as FunctionModelDefinition };
}

function checkLayers(layers: readonly unknown[], fail: (why: string) => never): LayerSpec[] {
  if (layers.length === 0) fail('the layer list is empty');
  layers.forEach((l, i) => {
    const kind = (l as { kind?: unknown } | null)?.kind;
    if (typeof kind !== 'string' || !LAYER_KINDS.has(kind)) fail(`layers[${i}].kind = ${JSON.stringify(kind)} is not one of ${[...LAYER_KINDS].join(', ')}`);
  });
  if (!layers.some((l) => (l as LayerSpec).kind === 'dense')) fail('the layer list needs a dense layer (the last one emits the logits)');
  return layers as LayerSpec[];
}

/**
 * Validates a parameter list (unique names, positive integer shapes, fan-in ≥ 1) and fills the default fan-ins
 * and initialisations; throws a ConfigError naming the model source and the parameter.
 */
export function checkParams(params: unknown, where: string): CheckedParam[] {
  const fail = (why: string): never => {
    throw new ConfigError('model', `${where}: ${why}`);
  };
  if (!Array.isArray(params)) return fail(`params must be a list of { name, shape }, got ${typeof params}`);
  if (params.length === 0) fail('params is empty: a model needs at least one parameter');
  const seen = new Set<string>();
  let kernelFanIn = 1;
  return params.map((p: unknown, i) => {
    const decl = p as Partial<ParamDecl> | null;
    if (decl === null || typeof decl !== 'object') fail(`params[${i}] must be an object { name, shape }`);
    const name = decl!.name;
    if (typeof name !== 'string' || name.length === 0) fail(`params[${i}].name must be a non-empty string`);
    if (seen.has(name!)) fail(`params[${i}].name "${name}" is used twice`);
    seen.add(name!);
    const shape = decl!.shape;
    if (!Array.isArray(shape) || shape.length === 0 || !shape.every((v) => Number.isInteger(v) && v >= 1)) {
      fail(`params[${i}] ("${name}").shape must be a non-empty list of positive integers, got ${JSON.stringify(shape)}`);
    }
    const dims = shape as number[];
    const own = dims.length >= 2 ? dims.slice(0, -1).reduce((a, b) => a * b, 1) : kernelFanIn;
    if (dims.length >= 2) kernelFanIn = own;
    const fanIn = decl!.fanIn ?? own;
    if (!(Number.isFinite(fanIn) && fanIn >= 1)) fail(`params[${i}] ("${name}").fanIn must be a number ≥ 1, got ${JSON.stringify(decl!.fanIn)}`);
    const init = decl!.init ?? 'uniform';
    if (init !== 'uniform' && init !== 'zeros' && init !== 'ones') fail(`params[${i}] ("${name}").init must be "uniform", "zeros" or "ones", got ${JSON.stringify(init)}`);
    return { name: name!, shape: [...dims], fanIn, init };
  });
}

/**
 * Registers a model under `name` in this thread (replacing an earlier registration of that name). The zoo's
 * names cannot be replaced. Throws a ConfigError when the definition is malformed.
 */
export function registerModel(name: string, definition: ModelDefinition): void {
  if (typeof name !== 'string' || name.trim() !== name || name.length === 0 || name.length > 256) {
    throw new ConfigError('model', `registerModel: the name must be a non-empty string of at most 256 characters without surrounding spaces, got ${JSON.stringify(name)}`);
  }
  if ((MODEL_NAMES as readonly string[]).includes(name)) throw new ConfigError('model', `registerModel("${name}"): ${name} is a built-in model and cannot be replaced; choose another name`);
  registry.set(name, checkModelDefinition(definition, `registerModel("${name}")`));
}

/** The registered definition of `name` (a module path is looked up by its absolute path), if any. */
export function registeredModel(name: string): ResolvedDefinition | undefined {
  return registry.get(name) ?? (isModulePath(name) ? registry.get(resolveModulePath(name)) : undefined);
}

/** Names registered in this thread (module paths as absolute paths), sorted. */
export function registeredModelNames(): string[] {
  return [...registry.keys()].sort();
}

/**
 * True when `name` can be given as a model: a zoo name, a registered name, or a module path (which must be
 * loaded with `loadModelModule` before the model is built).
 */
export function isKnownModel(name: string): boolean {
  return (MODEL_NAMES as readonly string[]).includes(name) || registeredModel(name) !== undefined || isModulePath(name);
}
