/**
 * Where no compiler exists, the native kernels' build prints one line and leaves a reason, and everything falls
 * back to wasm: the backend picker says why in its log line, and the quick start runs to the end. The compiler
 * is hidden for real (CXX names a program that does not exist, the variable node-gyp and make honour too), on a
 * copy of native/ and its build script in a temporary folder, so the repository's own build is left alone.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

describe('native kernels: fallback where no compiler exists', function () {
  this.timeout(240000);
  const root = mkdtempSync(path.join(os.tmpdir(), 'rfl-native-fallback-'));
  const build = path.join(root, 'native', 'build');

  before(() => {
    mkdirSync(path.join(root, 'scripts'));
    cpSync(path.resolve('native/src'), path.join(root, 'native', 'src'), { recursive: true });
    cpSync(path.resolve('native/binding.gyp'), path.join(root, 'native', 'binding.gyp'));
    cpSync(path.resolve('scripts/build-native.mjs'), path.join(root, 'scripts', 'build-native.mjs'));
  });

  it('the build prints one line, exits 0 and leaves the reason; no addon is made', () => {
    const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-native.mjs'), '--root', root], { encoding: 'utf8', env: { ...process.env, CXX: '/nonexistent/g++' } });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout.trim().split('\n')).to.deep.equal(['native kernels: not built (/nonexistent/g++ not found); the wasm backend will be used']);
    expect(readFileSync(path.join(build, 'skipped.txt'), 'utf8').trim()).to.equal('/nonexistent/g++ not found');
    expect(existsSync(path.join(build, 'Release', 'rfl_native.node'))).to.equal(false);
  });

  it('the picker falls back to wasm and says why in its one log line', () => {
    const script = `import('${path.resolve('dist/shared/compute/backend.js')}').then((m) => m.initBackend())`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, RFL_NATIVE_BUILD: build, RFL_BACKEND: '' } });
    expect(r.status, r.stderr).to.equal(0);
    const line = r.stderr.split('\n').find((l) => l.startsWith('compute backend:'));
    expect(line).to.match(/^compute backend: wasm \(.*native kernels not built \(\/nonexistent\/g\+\+ not found\)\)$/);
  });

  it('the quick start runs to the end on wasm (one round)', () => {
    const out = path.join(root, 'run');
    const r = spawnSync(process.execPath, [path.resolve('dist/cli/rfl.js'), 'start', '--out', out, '--set', 'rounds=1', '--no-progress'], {
      encoding: 'utf8',
      env: { ...process.env, RFL_NATIVE_BUILD: build, RFL_BACKEND: '' },
    });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr + r.stdout).to.match(/compute backend: wasm/);
    expect(existsSync(path.join(out, 'results.json'))).to.equal(true);
  });
});
