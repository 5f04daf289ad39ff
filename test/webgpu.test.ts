/**
 * The WebGPU backend (Dawn over Vulkan): whole-model parameter and input gradients match the cpu backend.
 * Runs where a Vulkan loader and GPU driver are present; elsewhere it is skipped and says why. Float32 on a GPU
 * sums in a different order than the cpu backend, so the bar is a relative error of 1e-4 per tensor
 * (‖webgpu − cpu‖∞ / ‖cpu‖∞), ten times looser than the wasm kernels' 1e-5.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { vulkanMissing } from '../shared/compute/webgpu/backend.js';

const here = path.dirname(fileURLToPath(import.meta.url));

describe('webgpu backend', function () {
  this.timeout(300000);

  it('parameter and input gradients of cnn-mnist, surrogate C and the MLP, and three full training steps, match the cpu backend within 1e-4', function () {
    const missing = vulkanMissing();
    if (missing !== undefined) {
      console.log(`      (skipped: ${missing}; see docs/gpu.md)`);
      this.skip();
    }
    const r = spawnSync(process.execPath, [path.join(here, 'helpers/gradient-check.js'), 'webgpu'], { encoding: 'utf8' });
    if (r.status !== 0 && /no WebGPU adapter|failed to initialise/.test(r.stderr)) {
      console.log(`      (skipped: Vulkan is present but Dawn found no usable adapter: ${r.stderr.trim().split('\n').pop()})`);
      this.skip();
    }
    expect(r.status, r.stderr).to.equal(0);
    const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as { backend: string; fusedKernels: boolean; worst: number; cases: { model: string; worst: number }[] };
    expect(res.backend).to.equal('webgpu');
    // The fused kernels (cross-entropy, momentum update, pool+relu) must have run, not tfjs's fallback ops.
    expect(res.fusedKernels, 'tfjs-backend-webgpu internals changed: the fused WebGPU kernels fell back to tfjs ops').to.equal(true);
    for (const c of res.cases) expect(c.worst, c.model).to.be.below(1e-4);
  });
});
