/**
 * The project's own tfjs-backend-wasm kernels, registered over (or in place of) the stock ones.
 * Each is tested against the cpu backend's kernel in test/wasm-kernels.test.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { conv2dBackpropFilterConfig } from './conv2d-backprop-filter.js';
import { conv2dBackpropInputConfig } from './conv2d-backprop-input.js';
import { maxPoolGradConfig } from './max-pool-grad.js';

/** Kernels this project provides for the wasm backend. */
export const WASM_KERNELS: readonly tf.KernelConfig[] = [conv2dBackpropFilterConfig, conv2dBackpropInputConfig, maxPoolGradConfig];

let registered = false;

/** Registers the project's wasm kernels (idempotent); replaces any stock kernel of the same name. */
export function registerWasmKernels(): void {
  if (registered) return;
  for (const k of WASM_KERNELS) {
    if (tf.getKernel(k.kernelName, 'wasm') !== undefined) tf.unregisterKernel(k.kernelName, 'wasm');
    tf.registerKernel(k);
  }
  registered = true;
}
