/**
 * Picks and initialises the TensorFlow.js compute backend, once per process (or worker thread).
 *
 * Order: an explicit choice (option, else the RFL_BACKEND environment variable), else the first of
 * tfjs-node-gpu, webgpu (Dawn over Vulkan, where a GPU driver is present; asynchronous callers only), tfjs-node,
 * native (tfjs-wasm with the project's C++ kernels, where `npm run build` could compile them), wasm, cpu that
 * actually loads. Presence of a package proves nothing here: npm may
 * skip a dependency's install script, leaving tfjs-node without its native library, so each candidate is
 * imported and initialised for real (docs/spec/compute-backend.md).
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { registerWasmKernels } from './kernels/index.js';
import { NATIVE_BACKEND, registerNativeBackend } from './native/kernels.js';
import { loadWebGpu } from './webgpu/backend.js';

/** Backends the picker knows, by the name users pass. */
export const BACKEND_NAMES = ['tfjs-node-gpu', 'webgpu', 'tfjs-node', 'native', 'wasm', 'cpu'] as const;
/** A backend name accepted by `initBackend`. */
export type BackendName = (typeof BACKEND_NAMES)[number];

/** What the picker chose, and why. */
export interface BackendChoice {
  /** The picker's name for the backend. */
  name: BackendName;
  /** tfjs's registered name (`tensorflow`, `wasm`, `cpu`). */
  tfName: string;
  /** One sentence: why this one. */
  reason: string;
  /** The GPU adapter, for `webgpu`; the instruction set the kernels use (`avx512`, `avx2+fma`, `portable`), for `native`. */
  adapter?: string;
  /** Every candidate tried before it, with the error that ruled it out. */
  rejected: { name: BackendName; error: string }[];
}

/** Options for `initBackend`. */
export interface BackendOptions {
  /** Force one backend; default: RFL_BACKEND, else automatic. */
  backend?: BackendName;
  /** Suppress the one-line log of the choice (default false). */
  quiet?: boolean;
  /** Log the long form of the choice, with every rejection's error (default: RFL_VERBOSE=1, as `rfl --verbose` sets). */
  verbose?: boolean;
  /**
   * The caller reads tensors only asynchronously (`await t.data()`), so the automatic choice may take WebGPU:
   * in Node, WebGPU has no synchronous read (`dataSync` needs a browser's OffscreenCanvas). Default false: the
   * training and secure-aggregation code reads synchronously and runs on a CPU backend.
   */
  gpu?: boolean;
}

const require = createRequire(import.meta.url);
let current: Promise<BackendChoice> | undefined;

/** Directory holding tfjs-backend-wasm's .wasm binaries (shipped inside the npm package). */
export function wasmBinaryDir(): string {
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm'));
}

let adapter: string | undefined;

async function tryLoad(name: BackendName): Promise<string> {
  switch (name) {
    case 'webgpu':
      adapter = await loadWebGpu();
      return 'webgpu';
    case 'tfjs-node-gpu':
    case 'tfjs-node': {
      // Both register the backend 'tensorflow' on import; a missing native payload throws here.
      // A computed specifier: these optional packages are usually absent, so TypeScript must not resolve them.
      const specifier: string = name === 'tfjs-node-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
      await import(specifier);
      if (!(await tf.setBackend('tensorflow'))) throw new Error('backend "tensorflow" failed to initialise');
      return 'tensorflow';
    }
    case 'native': {
      adapter = await registerNativeBackend(loadWasmBackend);
      if (!(await tf.setBackend(NATIVE_BACKEND))) throw new Error('backend "native" failed to initialise');
      return NATIVE_BACKEND;
    }
    case 'wasm': {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      wasm.setWasmPaths(wasmBinaryDir() + path.sep);
      registerWasmKernels();
      if (!(await tf.setBackend('wasm'))) throw new Error('backend "wasm" failed to initialise');
      return 'wasm';
    }
    case 'cpu': {
      if (!(await tf.setBackend('cpu'))) throw new Error('backend "cpu" failed to initialise');
      return 'cpu';
    }
  }
}

/**
 * Initialises tfjs-wasm with the project's kernels and makes it the active backend, outside the picker (the
 * native backend is registered over it; tests that compare backends in one process use it too).
 */
export async function loadWasmBackend(): Promise<void> {
  await tryLoad('wasm');
}

function parseName(v: string, source: string): BackendName {
  if ((BACKEND_NAMES as readonly string[]).includes(v)) return v as BackendName;
  throw new Error(`${source}: unknown backend "${v}"; expected one of ${BACKEND_NAMES.join(', ')}`);
}

async function pick(opts: BackendOptions): Promise<BackendChoice> {
  const env = process.env['RFL_BACKEND'];
  const explicit = opts.backend ?? (env !== undefined && env !== '' ? parseName(env, 'RFL_BACKEND') : undefined);
  if (explicit !== undefined) {
    parseName(explicit, 'backend option');
    const tfName = await tryLoad(explicit);
    const reason = opts.backend !== undefined ? 'chosen by option' : 'chosen by RFL_BACKEND';
    return { name: explicit, tfName, reason, rejected: [], ...(adapter !== undefined ? { adapter } : {}) };
  }
  const rejected: BackendChoice['rejected'] = [];
  for (const name of BACKEND_NAMES) {
    if (name === 'webgpu' && opts.gpu !== true) {
      rejected.push({ name, error: 'not for this program (it reads tensors synchronously; WebGPU in Node reads only asynchronously)' });
      continue;
    }
    try {
      const tfName = await tryLoad(name);
      const reason = rejected.length === 0 ? 'first candidate, loaded' : `first that loaded after ${rejected.map((r) => r.name).join(', ')}`;
      return { name, tfName, reason, rejected, ...(adapter !== undefined ? { adapter } : {}) };
    } catch (err) {
      rejected.push({ name, error: firstLine(err) });
    }
  }
  throw new Error(`no TensorFlow.js backend could be loaded: ${rejected.map((r) => `${r.name}: ${r.error}`).join('; ')}`);
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0] ?? msg;
}

/**
 * The short form of a choice, for the log line everyone sees: the backend, and why the better ones were not
 * taken in a few words (`compute backend: wasm (tfjs-node-gpu, tfjs-node not installed; no GPU)`). A rejection
 * by design (webgpu offered only to asynchronous readers) is left out; `describeBackend` has every error.
 */
export function summarizeBackend(c: BackendChoice): string {
  const notInstalled = c.rejected.filter((r) => /Cannot find (package|module)|not installed/i.test(r.error)).map((r) => r.name);
  const notes: string[] = [];
  if (notInstalled.length > 0) notes.push(`${notInstalled.join(', ')} not installed`);
  for (const r of c.rejected) {
    if (notInstalled.includes(r.name) || /reads tensors synchronously/.test(r.error)) continue;
    // The native kernels say why themselves (not built: no compiler; off: RFL_NATIVE=0).
    if (r.name === 'native' && r.error.startsWith('native kernels ')) notes.push(r.error);
    else notes.push(r.name === 'webgpu' ? 'no GPU' : `${r.name} failed to load`);
  }
  if (c.reason.startsWith('chosen by')) notes.unshift(c.reason);
  return `compute backend: ${c.name}${c.adapter !== undefined ? ` on ${c.adapter}` : ''}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}`;
}

/** Describes a choice in one line with every rejection's error, for `--verbose` and logs. */
export function describeBackend(c: BackendChoice): string {
  const why = c.rejected.length > 0 ? ` (${c.rejected.map((r) => `${r.name}: ${r.error}`).join('; ')})` : '';
  return `compute backend: ${c.name}${c.adapter !== undefined ? ` on ${c.adapter}` : ''} — ${c.reason}${why}`;
}

/**
 * Initialises the backend once; later calls return the same choice (an explicit different choice in the
 * same process is an error rather than a silent switch).
 */
export async function initBackend(opts: BackendOptions = {}): Promise<BackendChoice> {
  if (current === undefined) {
    current = pick(opts).then((c) => {
      if (opts.quiet !== true) console.error((opts.verbose ?? process.env['RFL_VERBOSE'] === '1') ? describeBackend(c) : summarizeBackend(c));
      return c;
    });
    current.catch(() => (current = undefined));
    return current;
  }
  const c = await current;
  if (opts.backend !== undefined && opts.backend !== c.name) {
    throw new Error(`compute backend already initialised as ${c.name}; cannot switch to ${opts.backend} in the same process`);
  }
  return c;
}
