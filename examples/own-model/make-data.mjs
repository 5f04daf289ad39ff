/**
 * Writes my-data/: a small image-folder dataset of 32×32 RGB PNGs in ten classes of synthetic coloured
 * patterns, 40 training and 10 test images per class, with train/labels.csv and test/labels.csv
 * (columns file,label). Deterministic: the same seed gives the same pixels on every machine.
 *
 *   node examples/own-model/make-data.mjs [outDir]     (default: examples/own-model/my-data)
 *
 * Each class has its own pattern and hue (stripes, checks, rings, a cross, …); every image varies the
 * pattern's phase and position, the colours' brightness, and adds sparse noise, so the classes are easy
 * but not trivially identical.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import pngjs from 'pngjs';

const SIZE = 32;
const TRAIN_PER_CLASS = 40;
const TEST_PER_CLASS = 10;
const SEED = 2024;

/** mulberry32: a tiny seeded generator of floats in [0, 1). */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Foreground colour of each class (RGB in [0, 1]).
const COLORS = [
  [0.9, 0.15, 0.15],
  [0.15, 0.8, 0.2],
  [0.2, 0.3, 0.95],
  [0.95, 0.85, 0.1],
  [0.1, 0.85, 0.85],
  [0.85, 0.2, 0.85],
  [0.95, 0.95, 0.95],
  [0.95, 0.55, 0.1],
  [0.55, 0.25, 0.85],
  [0.55, 0.55, 0.55],
];

/** Whether pixel (r, c) is foreground for class k, given a phase p in [0, 1) and an offset (dr, dc). */
function pattern(k, r, c, p, dr, dc) {
  const y = r - 16 - dr;
  const x = c - 16 - dc;
  const ph = Math.floor(p * 8);
  switch (k) {
    case 0:
      return (r + ph) % 8 < 4; // horizontal stripes
    case 1:
      return (c + ph) % 8 < 4; // vertical stripes
    case 2:
      return (r + c + ph) % 10 < 5; // diagonal stripes
    case 3:
      return (Math.floor((r + ph) / 4) + Math.floor((c + ph) / 4)) % 2 === 0; // checks
    case 4:
      return x * x + y * y < 81; // disc
    case 5:
      return Math.abs(x) < 10 && Math.abs(y) < 10 && (Math.abs(x) > 6 || Math.abs(y) > 6); // square outline
    case 6:
      return Math.abs(x) < 3 || Math.abs(y) < 3; // cross
    case 7:
      return c > 4 + ph * 2 && c < 20 + ph * 2; // a vertical band
    case 8:
      return (r + ph) % 6 < 2 && (c + ph) % 6 < 2; // dots
    default: {
      const d = Math.sqrt(x * x + y * y);
      return d > 6 && d < 11;
    } // ring
  }
}

function image(k, next) {
  const p = next();
  const dr = Math.floor(next() * 7) - 3;
  const dc = Math.floor(next() * 7) - 3;
  const fgScale = 0.75 + 0.25 * next();
  const bg = 0.05 + 0.2 * next();
  const rgb = Buffer.alloc(SIZE * SIZE * 3);
  for (let r = 0; r < SIZE; r++) {
    for (let c = 0; c < SIZE; c++) {
      const on = pattern(k, r, c, p, dr, dc);
      for (let ch = 0; ch < 3; ch++) {
        const base = on ? COLORS[k][ch] * fgScale : bg;
        // Sparse noise (about one pixel value in thirty, ±1/8) keeps the PNGs small.
        const noise = next() < 0.03 ? (next() < 0.5 ? -1 : 1) / 8 : 0;
        rgb[(r * SIZE + c) * 3 + ch] = Math.round(255 * Math.min(1, Math.max(0, base + noise)));
      }
    }
  }
  return pngjs.PNG.sync.write({ width: SIZE, height: SIZE, data: rgb }, { colorType: 2, inputHasAlpha: false, deflateLevel: 9 });
}

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(process.argv[2] ?? path.join(here, 'my-data'));
rmSync(out, { recursive: true, force: true });
const next = rng(SEED);
let bytes = 0;
for (const [split, perClass] of [
  ['train', TRAIN_PER_CLASS],
  ['test', TEST_PER_CLASS],
]) {
  const dir = path.join(out, split);
  mkdirSync(dir, { recursive: true });
  const rows = ['file,label'];
  let n = 0;
  // Interleave the classes, as a real dataset's files would be.
  for (let i = 0; i < perClass; i++) {
    for (let k = 0; k < 10; k++) {
      const file = `${String(n++).padStart(4, '0')}.png`;
      const png = image(k, next);
      bytes += png.length;
      writeFileSync(path.join(dir, file), png);
      rows.push(`${file},${k}`);
    }
  }
  writeFileSync(path.join(dir, 'labels.csv'), rows.join('\n') + '\n');
}
console.log(`wrote ${out}: ${10 * TRAIN_PER_CLASS} training and ${10 * TEST_PER_CLASS} test images (${(bytes / 1024).toFixed(0)} KiB of PNG)`);
