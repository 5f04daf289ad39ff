/**
 * The compute backend in a browser, picked as shared/compute/backend.ts picks it in Node: an explicit choice, else
 * the first candidate that really initialises (WebGL where the browser has it, then tfjs's wasm backend with the
 * project's kernels, then cpu), logged in one line (`compute backend: wasm (webgl failed to load)`). The wasm
 * binaries are fetched from `wasmPath`: a folder URL, or each binary's URL by file name (the join page gives the
 * coordinator's versioned URLs, `/browser/<name>?v=<hash>`, which browsers cache).
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmKernels } from '../../shared/compute/kernels/index.js';

/** Backends a browser client may use, in the automatic order. */
export const BROWSER_BACKENDS = ['webgl', 'wasm', 'cpu'] as const;
/** A browser backend's name. */
export type BrowserBackend = (typeof BROWSER_BACKENDS)[number];

/** What was picked, the log line, and why each better candidate was not. */
export interface BrowserBackendChoice {
  name: BrowserBackend;
  line: string;
  rejected: { name: BrowserBackend; error: string }[];
}

/** Where tfjs's wasm binaries are: a folder URL (ending in '/'), or each binary's URL by its file name. */
export type WasmPaths = string | Readonly<Record<string, string>>;

async function load(name: BrowserBackend, wasmPath: WasmPaths): Promise<void> {
  if (name === 'wasm') {
    setWasmPaths(typeof wasmPath === 'string' ? wasmPath : { ...wasmPath });
    registerWasmKernels();
  }
  if (!(await tf.setBackend(name))) throw new Error(`backend "${name}" failed to initialise`);
  await tf.ready();
}

/** Picks and initialises the backend (`explicit`, else automatic). */
export async function initBrowserBackend(explicit: BrowserBackend | undefined, wasmPath: WasmPaths): Promise<BrowserBackendChoice> {
  if (explicit !== undefined) {
    if (!(BROWSER_BACKENDS as readonly string[]).includes(explicit)) throw new Error(`unknown backend "${String(explicit)}"; expected one of ${BROWSER_BACKENDS.join(', ')}`);
    await load(explicit, wasmPath);
    return { name: explicit, line: `compute backend: ${explicit} (chosen by option)`, rejected: [] };
  }
  const rejected: BrowserBackendChoice['rejected'] = [];
  for (const name of BROWSER_BACKENDS) {
    try {
      await load(name, wasmPath);
      const notes = rejected.map((r) => `${r.name} failed to load`);
      return { name, line: `compute backend: ${name}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}`, rejected };
    } catch (err) {
      rejected.push({ name, error: (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '' });
    }
  }
  throw new Error(`no TensorFlow.js backend could be loaded: ${rejected.map((r) => `${r.name}: ${r.error}`).join('; ')}`);
}
