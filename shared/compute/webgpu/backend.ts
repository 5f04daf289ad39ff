/**
 * The WebGPU backend in Node: TensorFlow.js's `@tensorflow/tfjs-backend-webgpu` on Dawn, through the npm package
 * `webgpu` (a prebuilt `dawn.node`; no install script needed). Dawn reaches the GPU through Vulkan, so the
 * Vulkan loader (`libvulkan.so.1`, Debian `libvulkan1`) and a driver ICD (the NVIDIA driver ships one) must be
 * present. Both are checked before `dawn.node` is loaded, so a machine without a GPU pays nothing and prints
 * nothing (Dawn itself would warn on stderr in every process and worker).
 */
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { installBindGroupCache } from './bind-group-cache.js';

/** Where the NVIDIA container toolkit puts the driver's Vulkan ICD when it is not in a standard directory. */
const NVIDIA_ICD = '/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json';
const ICD_DIRS = ['/etc/vulkan/icd.d', '/usr/share/vulkan/icd.d', '/usr/local/share/vulkan/icd.d', '/usr/local/etc/vulkan/icd.d'];
const LIB_DIRS = ['/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib64', '/usr/local/lib', '/usr/lib/aarch64-linux-gnu'];

/** Why Vulkan cannot work here, or undefined when a loader and at least one driver ICD are present. */
export function vulkanMissing(): string | undefined {
  const libDirs = [...(process.env['LD_LIBRARY_PATH'] ?? '').split(':').filter((d) => d !== ''), ...LIB_DIRS];
  if (!libDirs.some((d) => existsSync(path.join(d, 'libvulkan.so.1')))) return 'no Vulkan loader (libvulkan.so.1; Debian package libvulkan1)';
  const fromEnv = (process.env['VK_DRIVER_FILES'] ?? process.env['VK_ICD_FILENAMES'] ?? '').split(':').filter((f) => f !== '');
  if (fromEnv.length > 0) return fromEnv.some((f) => existsSync(f)) ? undefined : `VK_DRIVER_FILES names no existing file (${fromEnv.join(', ')})`;
  if (ICD_DIRS.some((d) => existsSync(d) && readdirSync(d).some((f) => f.endsWith('.json')))) return undefined;
  if (existsSync(NVIDIA_ICD)) {
    // The driver is mounted but its ICD is outside the loader's search path: point the loader at it.
    process.env['VK_DRIVER_FILES'] = NVIDIA_ICD;
    return undefined;
  }
  return 'no Vulkan driver ICD (no GPU driver with Vulkan support, or VK_DRIVER_FILES unset)';
}

/** Loads Dawn, finds an adapter and registers and selects tfjs's `webgpu` backend; returns the adapter's description. */
export async function loadWebGpu(): Promise<string> {
  const missing = vulkanMissing();
  if (missing !== undefined) throw new Error(missing);
  // A computed specifier: `webgpu` is an optional dependency.
  const specifier: string = 'webgpu';
  const dawn = (await import(specifier)) as { create: (flags: string[]) => GpuLike; globals: Record<string, unknown> };
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (adapter === null || adapter === undefined) throw new Error('Dawn found no WebGPU adapter');
  const info = adapter.info ?? {};
  const described = [info.vendor, info.architecture, info.device, info.description].filter((s) => s !== undefined && s !== '').join(' ') || 'unnamed adapter';
  // tfjs-backend-webgpu registers itself on import only where navigator.gpu exists (Node 20 has no navigator).
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (g.navigator === undefined) Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  else if (g.navigator.gpu === undefined) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('backend "webgpu" failed to initialise');
  // Small tensors would otherwise be computed on the CPU and copied back and forth; on an H200 turning this off
  // took a cnn-mnist training step at batch 64 from 28 to 14.5 ms and FGSM at 1,024 from 7.2 to 4.1 ms.
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  // Bind groups are reused across identical dispatches (bind-group-cache.ts); RFL_WEBGPU_BIND_GROUP_CACHE=0
  // turns that off, for comparison.
  if (process.env['RFL_WEBGPU_BIND_GROUP_CACHE'] !== '0') installBindGroupCache((tf.backend() as unknown as { device: Parameters<typeof installBindGroupCache>[0] }).device);
  // tfjs-backend-webgpu flags (WEBGPU_*) as a JSON object, for tuning on a given GPU.
  const flags = process.env['RFL_WEBGPU_FLAGS'];
  if (flags !== undefined && flags !== '') for (const [k, v] of Object.entries(JSON.parse(flags) as Record<string, unknown>)) tf.env().set(k, v as number | boolean);
  return described;
}

interface GpuLike {
  requestAdapter(opts?: { powerPreference?: string }): Promise<{ info?: { vendor?: string; architecture?: string; device?: string; description?: string } } | null | undefined>;
}
