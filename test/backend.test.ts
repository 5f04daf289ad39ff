/**
 * The backend picker. Automatic choice and the environment variable are checked in child processes, since a
 * process initialises its backend once.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeBackend, initBackend, summarizeBackend } from '../shared/compute/backend.js';
import { vulkanMissing } from '../shared/compute/webgpu/backend.js';

const backendModule = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../shared/compute/backend.js');

function pickInChild(env: Record<string, string>, opts: { gpu?: boolean } = {}): { status: number | null; stdout: string; stderr: string } {
  const code = `import(${JSON.stringify(backendModule)}).then(async (m) => { const c = await m.initBackend(${JSON.stringify(opts)}); console.log(JSON.stringify(c)); }).catch((e) => { console.error('ERROR ' + e.message); process.exit(3); });`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, ...env }, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('compute backend picker', function () {
  it('honours an explicit choice and refuses to switch later in the same process', async () => {
    const c = await initBackend({ backend: 'wasm', quiet: true });
    expect(c.name).to.equal('wasm');
    expect(c.tfName).to.equal('wasm');
    expect((await initBackend({ quiet: true })).name).to.equal('wasm');
    await initBackend({ backend: 'cpu', quiet: true }).then(
      () => expect.fail('switching backends should throw'),
      (e: Error) => expect(e.message).to.match(/already initialised as wasm; cannot switch to cpu/),
    );
  });

  it('picks automatically by loading each candidate, and logs the choice and every rejection once', () => {
    const r = pickInChild({ RFL_BACKEND: '' });
    expect(r.status, r.stderr).to.equal(0);
    const c = JSON.parse(r.stdout.trim()) as { name: string; rejected: { name: string; error: string }[] };
    const order = ['tfjs-node-gpu', 'webgpu', 'tfjs-node', 'native', 'wasm', 'cpu'];
    expect(order).to.include(c.name);
    expect(c.rejected.map((x) => x.name)).to.deep.equal(order.slice(0, order.indexOf(c.name)));
    for (const x of c.rejected) expect(x.error).to.be.a('string').and.not.equal('');
    const logLines = r.stderr.split('\n').filter((l) => l.startsWith('compute backend:'));
    expect(logLines).to.have.length(1);
    expect(logLines[0]).to.contain(c.name);
  });

  it('takes RFL_BACKEND, and names the valid choices when it is wrong', () => {
    const ok = pickInChild({ RFL_BACKEND: 'cpu' });
    expect(ok.status, ok.stderr).to.equal(0);
    expect((JSON.parse(ok.stdout.trim()) as { name: string }).name).to.equal('cpu');
    expect(ok.stderr).to.contain('compute backend: cpu (chosen by RFL_BACKEND)');
    const bad = pickInChild({ RFL_BACKEND: 'cuda' });
    expect(bad.status).to.equal(3);
    expect(bad.stderr).to.contain('RFL_BACKEND: unknown backend "cuda"; expected one of tfjs-node-gpu, webgpu, tfjs-node, native, wasm, cpu');
  });

  it('rules out webgpu without loading Dawn where Vulkan is missing, saying what is missing', function () {
    const missing = vulkanMissing();
    if (missing === undefined) this.skip();
    const r = pickInChild({ RFL_BACKEND: '' }, { gpu: true });
    const c = JSON.parse(r.stdout.trim()) as { name: string; rejected: { name: string; error: string }[] };
    expect(c.rejected.find((x) => x.name === 'webgpu')?.error).to.equal(missing);
    // Dawn was never loaded, so it printed none of its warnings.
    expect(r.stderr).to.not.contain('Vulkan:');
  });

  it('offers webgpu only to callers that read tensors asynchronously', () => {
    const r = pickInChild({ RFL_BACKEND: '' });
    const c = JSON.parse(r.stdout.trim()) as { name: string; rejected: { name: string; error: string }[] };
    expect(c.name).to.not.equal('webgpu');
    expect(c.rejected.find((x) => x.name === 'webgpu')?.error).to.match(/reads tensors synchronously/);
  });

  it('describes a choice with its reasons', () => {
    expect(describeBackend({ name: 'webgpu', tfName: 'webgpu', adapter: 'nvidia hopper', reason: 'chosen by option', rejected: [] })).to.equal(
      'compute backend: webgpu on nvidia hopper — chosen by option',
    );
    expect(describeBackend({ name: 'wasm', tfName: 'wasm', reason: 'first that loaded after tfjs-node', rejected: [{ name: 'tfjs-node', error: 'no binding' }] })).to.equal(
      'compute backend: wasm — first that loaded after tfjs-node (tfjs-node: no binding)',
    );
  });

  it('says in a few words why the better backends were not taken, leaving the errors to --verbose', () => {
    const rejected = [
      { name: 'tfjs-node-gpu' as const, error: "Cannot find package '@tensorflow/tfjs-node-gpu' imported from /x/backend.js" },
      { name: 'webgpu' as const, error: 'not for this program (it reads tensors synchronously; WebGPU in Node reads only asynchronously)' },
      { name: 'tfjs-node' as const, error: "Cannot find package '@tensorflow/tfjs-node' imported from /x/backend.js" },
    ];
    expect(summarizeBackend({ name: 'wasm', tfName: 'wasm', reason: 'first that loaded after tfjs-node-gpu, webgpu, tfjs-node', rejected })).to.equal(
      'compute backend: wasm (tfjs-node-gpu, tfjs-node not installed)',
    );
    const noGpu = [
      { name: 'webgpu' as const, error: 'no Vulkan loader (libvulkan.so.1)' },
      { name: 'tfjs-node' as const, error: 'libtensorflow.so: cannot open shared object file' },
    ];
    expect(summarizeBackend({ name: 'wasm', tfName: 'wasm', reason: 'first that loaded after webgpu, tfjs-node', rejected: noGpu })).to.equal(
      'compute backend: wasm (no GPU; tfjs-node failed to load)',
    );
    expect(summarizeBackend({ name: 'cpu', tfName: 'cpu', reason: 'chosen by RFL_BACKEND', rejected: [] })).to.equal('compute backend: cpu (chosen by RFL_BACKEND)');
  });
});
