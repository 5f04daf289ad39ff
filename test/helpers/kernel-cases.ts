/**
 * The shapes every custom kernel is checked on against tfjs's cpu backend (test/wasm-kernels.test.ts,
 * test/native-kernels.test.ts): strides 1 and 2, valid / same / explicit padding, 1 to 10 channels, non-square
 * inputs and filters, overlapping pools, and 40 seeded random convolutions.
 */
import * as tf from '@tensorflow/tfjs';

/** A padding as tf.conv2d takes it. */
export type Pad = 'valid' | 'same' | [[number, number], [number, number], [number, number], [number, number]];

/** One convolution to check. */
export interface ConvCase {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  stride: number | [number, number];
  pad: Pad;
}

/** One max-pool to check. */
export interface PoolCase {
  x: [number, number, number, number];
  size: number | [number, number];
  stride: number | [number, number];
  pad: 'valid' | 'same';
}

/** Number of elements of a shape. */
export const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** Values in [-1, 1) from a small LCG: the kernels' correctness does not depend on the quality of the randomness. */
export function randomArray(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** Runs `f` on each backend with the same inputs and returns the outputs, in the order given. */
export async function onBackends(backends: readonly string[], inputs: Float32Array[], shapes: number[][], f: (ts: tf.Tensor[]) => tf.Tensor): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const backend of backends) {
    await tf.setBackend(backend);
    out.push(tf.tidy(() => f(inputs.map((v, i) => tf.tensor(v, shapes[i]))).dataSync() as Float32Array).slice());
  }
  return out;
}

/** The hand-picked convolutions (the first two are cnn-mnist's layers). */
export const CONV_CASES: readonly ConvCase[] = [
  { x: [4, 28, 28, 1], filter: [5, 5, 1, 10], stride: 1, pad: 'valid' },
  { x: [4, 12, 12, 10], filter: [5, 5, 10, 20], stride: 1, pad: 'valid' },
  { x: [3, 9, 11, 3], filter: [3, 3, 3, 4], stride: 1, pad: 'same' },
  { x: [3, 9, 11, 3], filter: [3, 3, 3, 4], stride: 2, pad: 'same' },
  { x: [2, 10, 10, 8], filter: [4, 4, 8, 5], stride: 2, pad: 'valid' },
  { x: [2, 13, 7, 2], filter: [3, 2, 2, 6], stride: [2, 1], pad: 'same' },
  {
    x: [2, 8, 8, 4],
    filter: [3, 3, 4, 4],
    stride: 2,
    pad: [
      [0, 0],
      [1, 2],
      [2, 0],
      [0, 0],
    ],
  },
  { x: [5, 7, 7, 1], filter: [7, 7, 1, 3], stride: 1, pad: 'valid' },
];

/** The hand-picked pools. */
export const POOL_CASES: readonly PoolCase[] = [
  { x: [4, 24, 24, 10], size: 2, stride: 2, pad: 'valid' },
  { x: [3, 7, 9, 4], size: 2, stride: 2, pad: 'valid' }, // the 2×2 fast path with a leftover row and column
  { x: [3, 9, 7, 3], size: 3, stride: 2, pad: 'same' },
  { x: [2, 8, 8, 2], size: 3, stride: 1, pad: 'valid' },
  { x: [2, 11, 10, 5], size: [2, 3], stride: [2, 1], pad: 'same' },
];

/** Output shape of tf.conv2d on a case. */
export function convOutShape(c: ConvCase): number[] {
  return tf.tidy(() => tf.conv2d(tf.zeros(c.x) as tf.Tensor4D, tf.zeros(c.filter) as tf.Tensor4D, c.stride, c.pad).shape);
}

/**
 * 40 seeded random convolutions: every stride, padding and size mix, including asymmetric explicit pads and
 * pads larger than K − 1. Cases whose output would be empty are left out (their index is skipped).
 */
export function randomConvCases(): { index: number; c: ConvCase }[] {
  let s = 12345;
  const rnd = (n: number): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) % n;
  };
  const out: { index: number; c: ConvCase }[] = [];
  for (let i = 0; i < 40; i++) {
    const k = 1 + rnd(4);
    const h = k + rnd(8);
    const w = k + rnd(8);
    const stride = 1 + rnd(3);
    const padKind = rnd(3);
    const pad: Pad =
      padKind === 0
        ? 'valid'
        : padKind === 1
          ? 'same'
          : [
              [0, 0],
              [rnd(k + 2), rnd(k + 2)],
              [rnd(k + 1), rnd(k + 2)],
              [0, 0],
            ];
    const c: ConvCase = { x: [1 + rnd(3), h, w, 1 + rnd(5)], filter: [k, k, 0, 1 + rnd(5)], stride, pad };
    c.filter[2] = c.x[3];
    if (convOutShape(c).some((d) => d <= 0)) continue;
    out.push({ index: i, c });
  }
  return out;
}

/** A short label of a convolution case. */
export function convLabel(c: ConvCase): string {
  return `x ${c.x.join('×')}, filter ${c.filter.join('×')}, stride ${String(c.stride)}, pad ${JSON.stringify(c.pad)}`;
}
