#!/usr/bin/env node
/**
 * Builds the native CPU kernels (native/) with node-gyp, from the project's devDependency, against the Node
 * headers already on the machine; it never downloads headers. Where there is no compiler, no headers or the
 * build fails, it prints one line, leaves native/build/skipped.txt saying why, and exits 0: the backend
 * picker then falls back to wasm (shared/compute/native/addon.ts reads that file for its message).
 *
 * RFL_NATIVE=0 skips the build on purpose. Headers: npm's `nodedir` setting, else the directory above the
 * running node binary when it holds include/node/node_api.h (Debian's and the official tarballs' layout).
 * The build is skipped when native/build/.stamp matches the sources, the headers and node's version.
 *   node scripts/build-native.mjs [--root DIR]   DIR holds native/ (default: this script's parent folder)
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const rootAt = process.argv.indexOf('--root');
const root = rootAt >= 0 ? path.resolve(process.argv[rootAt + 1]) : path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, 'native');
const skipped = path.join(dir, 'build', 'skipped.txt');

function skip(why) {
  mkdirSync(path.dirname(skipped), { recursive: true });
  rmSync(path.join(dir, 'build', 'Release', 'rfl_native.node'), { force: true });
  writeFileSync(skipped, why + '\n');
  console.log(`native kernels: not built (${why}); the wasm backend will be used`);
  process.exit(0);
}

if (process.env.RFL_NATIVE === '0') skip('RFL_NATIVE=0');
const hasHeaders = (d) => d !== undefined && d !== '' && existsSync(path.join(d, 'include', 'node', 'node_api.h'));
const nodedir = [process.env.npm_config_nodedir, path.dirname(path.dirname(process.execPath)), '/usr'].find(hasHeaders);
if (nodedir === undefined) skip("no Node.js headers (include/node/node_api.h) next to node or in npm's nodedir");
for (const tool of [process.env.CXX ?? 'g++', 'make', 'python3']) {
  const probe = spawnSync(tool, ['--version'], { stdio: 'ignore' });
  if (probe.error !== undefined || probe.status !== 0) skip(`${tool} not found`);
}
let gyp;
try {
  gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
} catch {
  skip('node-gyp is not installed (npm install)');
}
const addonFile = path.join(dir, 'build', 'Release', 'rfl_native.node');
const stampFile = path.join(dir, 'build', '.stamp');
const sources = ['binding.gyp', ...readdirSync(path.join(dir, 'src')).map((f) => path.join('src', f))].sort();
const stamp = createHash('sha256')
  .update([process.version, nodedir, process.env.CXX ?? '', ...sources.map((f) => `${f}\n${readFileSync(path.join(dir, f), 'utf8')}`)].join('\0'))
  .digest('hex');
if (existsSync(addonFile) && existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === stamp) process.exit(0);
const started = Date.now();
const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`, '--jobs=max'], { cwd: dir, encoding: 'utf8' });
if (r.status !== 0) {
  const lines = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => /error/i.test(l));
  skip(`node-gyp failed: ${lines[0]?.trim() ?? `exit ${r.status}`}`);
}
rmSync(skipped, { force: true });
writeFileSync(stampFile, stamp + '\n');
console.log(`native kernels: built in ${((Date.now() - started) / 1000).toFixed(1)} s (native/build/Release/rfl_native.node)`);
