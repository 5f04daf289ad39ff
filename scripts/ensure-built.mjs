#!/usr/bin/env node
// Builds dist/ only when the sources changed since the last build, so `npm start`, `npm run simulate` and the
// other aliases start at once on a current build. The fingerprint is every file under tsconfig.json's
// "include" folders and native/src (path, size, mtime) plus tsconfig.json, package.json and native/binding.gyp; the last build's is kept in
// dist/.build-stamp. A changed, added or deleted file means a clean rebuild (rm -rf dist, tsc, the native kernels where a
// compiler exists, the browser bundle), so no output
// of a deleted source survives.
//   node scripts/ensure-built.mjs            build if stale (quiet when current)
//   node scripts/ensure-built.mjs --check    exit 0 when current, 1 when stale; build nothing
//   node scripts/ensure-built.mjs --stamp    record the current sources as built (after `tsc` ran), mark the bin executable
//   --root DIR                               the project root (default: this script's parent folder)
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const rootAt = args.indexOf('--root');
const root = rootAt >= 0 ? path.resolve(args[rootAt + 1]) : path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const stampFile = path.join(root, 'dist', '.build-stamp');

/** The fingerprint of the sources: a hash of every input file's path, size and modification time. */
export function fingerprint(dir) {
  const tsconfig = JSON.parse(readFileSync(path.join(dir, 'tsconfig.json'), 'utf8'));
  const entries = [];
  const walk = (rel) => {
    const abs = path.join(dir, rel);
    if (!existsSync(abs)) return;
    for (const d of readdirSync(abs, { withFileTypes: true })) {
      const child = path.join(rel, d.name);
      if (d.isDirectory()) walk(child);
      else if (d.isFile()) {
        const st = statSync(path.join(dir, child));
        entries.push(`${child}\t${st.size}\t${st.mtimeMs}`);
      }
    }
  };
  for (const folder of [...(tsconfig.include ?? []), 'native/src']) walk(folder);
  for (const f of ['tsconfig.json', 'package.json', 'native/binding.gyp']) {
    if (existsSync(path.join(dir, f))) {
      const st = statSync(path.join(dir, f));
      entries.push(`${f}\t${st.size}\t${st.mtimeMs}`);
    }
  }
  entries.sort();
  return createHash('sha256').update(entries.join('\n')).digest('hex');
}

const current = () => existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === fingerprint(root);
const stamp = () => {
  mkdirSync(path.dirname(stampFile), { recursive: true });
  writeFileSync(stampFile, `${fingerprint(root)}\n`);
  // The package's bin: tsc writes it without the execute bit, and `npx rfl` runs it directly.
  const bin = path.join(root, 'dist', 'cli', 'rfl.js');
  if (existsSync(bin)) chmodSync(bin, 0o755);
};

if (args.includes('--check')) {
  process.exit(current() ? 0 : 1);
} else if (args.includes('--stamp')) {
  stamp();
} else if (!current()) {
  process.stderr.write('building dist/ (sources changed since the last build)…\n');
  rmSync(path.join(root, 'dist'), { recursive: true, force: true });
  try {
    execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.json')], { stdio: 'inherit', cwd: root });
    // The native kernels (skipped with one line where no compiler is found) and the browser client's bundle
    // (dist/browser/), as `npm run build` makes them.
    execFileSync(process.execPath, [path.join(root, 'scripts', 'build-native.mjs'), '--root', root], { stdio: 'inherit', cwd: root });
    execFileSync(process.execPath, [path.join(root, 'scripts', 'build-browser.mjs')], { stdio: 'inherit', cwd: root });
  } catch {
    process.stderr.write('build failed: fix the errors above, then run the command again\n');
    process.exit(1);
  }
  stamp();
}
