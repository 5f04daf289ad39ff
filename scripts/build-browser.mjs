// Bundles the browser client (client/browser/join.ts) and the dashboard (client/browser/dashboard.ts) with
// esbuild into dist/browser/, and copies tfjs-backend-wasm's binaries there; run by `npm run build`.
// The browser build resolves shared/secagg/primitives.js to primitives-browser.ts (tweetnacl and plain-JS
// AES/SHA-256 in place of node:crypto) and shared/compute/native/fused.js to fused-browser.ts (no native addon in
// a page), and refuses any Node built-in: the bundle must have none.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// `--out DIR` builds elsewhere (a private build next to a running one, e.g. .dist-NAME/browser).
const outAt = process.argv.indexOf('--out');
const out = outAt >= 0 ? path.resolve(process.argv[outAt + 1]) : path.join(root, 'dist', 'browser');
const require = createRequire(import.meta.url);

const browserPrimitives = {
  name: 'browser-primitives',
  setup(b) {
    b.onResolve({ filter: /(^|\/)primitives\.js$/ }, (args) => {
      if (!args.importer.includes(`${path.sep}shared${path.sep}`)) return undefined;
      return { path: path.join(path.dirname(args.importer), args.path.replace(/primitives\.js$/, 'primitives-browser.ts')) };
    });
    b.onResolve({ filter: /(^|\/)native\/fused\.js$/ }, (args) => {
      if (!args.importer.includes(`${path.sep}shared${path.sep}`)) return undefined;
      return { path: path.join(path.dirname(args.importer), args.path.replace(/fused\.js$/, 'fused-browser.ts')) };
    });
    // A TypeScript source imported as './x.js' (NodeNext style) resolves to ./x.ts.
    b.onResolve({ filter: /^\.\.?\/.*\.js$/ }, (args) => {
      if (!args.importer.startsWith(root) || args.importer.includes('node_modules')) return undefined;
      const ts = path.join(path.dirname(args.importer), args.path.replace(/\.js$/, '.ts'));
      try {
        statSync(ts);
        return { path: ts };
      } catch {
        return undefined;
      }
    });
    b.onResolve({ filter: /^node:|^(fs|path|url|crypto|zlib|os|worker_threads|module|child_process)$/ }, (args) => {
      // tfjs's packages name a few Node modules behind runtime checks and map them to nothing in their
      // "browser" field; anything from this repository's sources is an error.
      if (args.importer.includes('node_modules')) return { path: args.path, namespace: 'empty' };
      return { errors: [{ text: `Node built-in '${args.path}' imported by ${path.relative(root, args.importer)}: the browser client must not use Node built-ins` }] };
    });
    b.onLoad({ filter: /.*/, namespace: 'empty' }, () => ({ contents: 'export default {};', loader: 'js' }));
  },
};

mkdirSync(out, { recursive: true });
const result = await build({
  entryPoints: [path.join(root, 'client', 'browser', 'join.ts'), path.join(root, 'client', 'browser', 'dashboard.ts')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  minify: true,
  sourcemap: false,
  metafile: true,
  outdir: out,
  plugins: [browserPrimitives],
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
});
const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm'));
for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm']) copyFileSync(path.join(wasmDir, f), path.join(out, f));
if (process.argv.includes('--verbose')) for (const [f, o] of Object.entries(result.metafile.outputs)) console.log(`${f}: ${o.bytes} bytes`);
