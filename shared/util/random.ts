/**
 * Seeded pseudo-random numbers for everything the project draws: partitions, cohorts, initialisations, noise.
 *
 * Generator: xoshiro128** (Blackman and Vigna, "Scrambled linear pseudorandom number generators", 2018/2021),
 * 32-bit lanes only, so every integer output is bit-identical on every platform and JS engine. Seeds (numbers,
 * strings) and fork labels are absorbed by a small bijective 128-bit mixer built from the MurmurHash3 finaliser;
 * it is not cryptographic and must never be used for secrets (secure aggregation uses its own CSPRNG).
 *
 * Determinism: `nextUint32`, `float`, `int`, `shuffle`, `permutation` and `sampleWithoutReplacement` use only
 * integer arithmetic and exact float operations. `normal`, `gamma` and `dirichlet` also call `Math.log`/`Math.sqrt`/
 * `Math.exp`/`Math.pow`; `Math.sqrt` is exact, the others are deterministic for a given engine (V8 ships its own
 * fdlibm port, so Node gives the same values on every OS and CPU) but are not specified bit-exactly by ECMAScript.
 */

/** A seed: any finite number (integers are encoded exactly, others by their float64 bits) or any string. */
export type RngSeed = number | string;

/** A fork label: a string (e.g. 'cohort') or a finite number (e.g. a round number). */
export type ForkLabel = string | number;

/** Anything indexable and mutable with a length: arrays and typed arrays. */
export interface MutableArrayLike<T> {
  readonly length: number;
  [index: number]: T;
}

const TWO_POW_32 = 0x1_0000_0000;
const TWO_POW_53 = 2 ** 53;
const TWO_POW_NEG_53 = 2 ** -53;

// Domain tags keep e.g. seed 1, seed '1' and fork(1) from ever producing the same key.
const TAG_INT = 0x696e7431; // 'int1'
const TAG_FLOAT = 0x666c7431; // 'flt1'
const TAG_STRING = 0x73747231; // 'str1'
const TAG_FORK = 0x666f726b; // 'fork'

const utf8 = new TextEncoder();

/** MurmurHash3 fmix32: a bijection on uint32 with full avalanche. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Absorbs 32-bit words into a 128-bit key. For a fixed word every step is a bijection of the state, and the
 * length is absorbed first, so distinct inputs collide only by chance.
 */
function hashWords(words: readonly number[]): Uint32Array {
  let h0 = 0x243f6a88;
  let h1 = 0x85a308d3;
  let h2 = 0x13198a2e;
  let h3 = 0x03707344;
  const step = (w: number): void => {
    h0 = fmix32((h0 ^ w) >>> 0);
    h1 = fmix32((h1 ^ h0 ^ 0x9e3779b9) >>> 0);
    h2 = fmix32((h2 + h1) >>> 0);
    h3 = fmix32((h3 ^ h2 ^ 0x7f4a7c15) >>> 0);
  };
  step(words.length >>> 0);
  for (const w of words) step(w >>> 0);
  // Feed the last lane back so every input word reaches every lane at least twice.
  for (let i = 0; i < 4; i++) step(h3 ^ (0xa5a5a5a5 + i));
  const key = new Uint32Array([h0, h1, h2, h3]);
  // xoshiro's only forbidden state is all zeros.
  if ((key[0]! | key[1]! | key[2]! | key[3]!) === 0) key[0] = 1;
  return key;
}

/** Encodes a seed or label as tagged 32-bit words; throws on NaN/±Infinity or a wrong type. */
function encode(value: RngSeed, what: string): number[] {
  if (typeof value === 'string') {
    const bytes = utf8.encode(value);
    const words = [TAG_STRING, bytes.length];
    for (let i = 0; i < bytes.length; i += 4) {
      words.push((bytes[i]! | ((bytes[i + 1] ?? 0) << 8) | ((bytes[i + 2] ?? 0) << 16) | ((bytes[i + 3] ?? 0) << 24)) >>> 0);
    }
    return words;
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new RangeError(`${what} must be a finite number or a string, got ${String(value)}`);
  }
  if (Number.isSafeInteger(value)) {
    const magnitude = Math.abs(value);
    return [TAG_INT, value < 0 ? 1 : 0, magnitude % TWO_POW_32, Math.floor(magnitude / TWO_POW_32)];
  }
  // Big-endian bits written explicitly, so the encoding does not depend on host byte order.
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value, false);
  return [TAG_FLOAT, view.getUint32(0, false), view.getUint32(4, false)];
}

function checkCount(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
}

function checkPositive(name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a finite number > 0, got ${String(value)}`);
  }
}

/** A seeded xoshiro128** generator with forkable, position-independent child streams. */
export class Rng {
  /** The 128-bit key this generator was seeded with; forks derive from it, never from the current state. */
  readonly #key: Uint32Array;
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;
  /** The polar method yields normals in pairs; the second one is kept here. */
  #spareNormal: number | null = null;

  /** Seeds a generator from a number or string; the same seed gives the same stream everywhere. */
  constructor(seed: RngSeed = 0) {
    const key = hashWords(encode(seed, 'seed'));
    this.#key = key;
    this.#s0 = key[0]!;
    this.#s1 = key[1]!;
    this.#s2 = key[2]!;
    this.#s3 = key[3]!;
  }

  /** Builds a generator directly from a 128-bit key (used by `fork`). */
  static #fromKey(key: Uint32Array): Rng {
    const rng = new Rng(0);
    rng.#key.set(key);
    rng.#s0 = key[0]!;
    rng.#s1 = key[1]!;
    rng.#s2 = key[2]!;
    rng.#s3 = key[3]!;
    return rng;
  }

  /**
   * Derives an independent child stream from this generator's seed and `label`. It neither consumes nor depends
   * on draws already made, so `rng.fork('cohort').fork(r)` names the same stream whatever else was drawn.
   */
  fork(label: ForkLabel): Rng {
    const k = this.#key;
    return Rng.#fromKey(hashWords([TAG_FORK, k[0]!, k[1]!, k[2]!, k[3]!, ...encode(label, 'fork label')]));
  }

  /** A copy of this generator at its current position (same future draws, same forks). */
  clone(): Rng {
    const copy = Rng.#fromKey(this.#key);
    copy.#s0 = this.#s0;
    copy.#s1 = this.#s1;
    copy.#s2 = this.#s2;
    copy.#s3 = this.#s3;
    copy.#spareNormal = this.#spareNormal;
    return copy;
  }

  /** The next raw output, uniform on the integers [0, 2^32). */
  nextUint32(): number {
    const s1 = this.#s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return result;
  }

  /** Uniform on [0, 1) with 53 random bits (two raw draws). */
  float(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) * TWO_POW_NEG_53;
  }

  /**
   * out[0 .. n) ← n draws of `float()`, in order (the same values and the same state after as n calls): a hot loop
   * reads them from the array, where a double returned by a call it does not inline is boxed on the heap.
   */
  floats(out: Float64Array, n: number = out.length): void {
    if (!Number.isInteger(n) || n < 0 || n > out.length) throw new RangeError(`floats: n = ${n} must be an integer in [0, ${out.length}]`);
    for (let i = 0; i < n; i++) {
      const hi = this.nextUint32() >>> 5;
      const lo = this.nextUint32() >>> 6;
      out[i] = (hi * 67108864 + lo) * TWO_POW_NEG_53;
    }
  }

  /** Uniform integer in [0, n) for an integer 1 ≤ n ≤ 2^53, by rejection (no modulo bias). */
  int(n: number): number {
    checkCount('n', n, 1, TWO_POW_53);
    if (n <= TWO_POW_32) {
      // Reject the top partial block so every residue is equally likely; the loop runs < 2 times on average.
      const limit = TWO_POW_32 - (TWO_POW_32 % n);
      for (;;) {
        const x = this.nextUint32();
        if (x < limit) return x % n;
      }
    }
    const limit = TWO_POW_53 - (TWO_POW_53 % n);
    for (;;) {
      const x = (this.nextUint32() >>> 11) * TWO_POW_32 + this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** True with probability p (0 ≤ p ≤ 1). */
  bernoulli(p: number): boolean {
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) {
      throw new RangeError(`p must be a probability in [0, 1], got ${String(p)}`);
    }
    return this.float() < p;
  }

  /** A normal draw with the given mean and standard deviation (Marsaglia's polar method). */
  normal(mean = 0, std = 1): number {
    if (this.#spareNormal !== null) {
      const z = this.#spareNormal;
      this.#spareNormal = null;
      return mean + std * z;
    }
    let u: number;
    let v: number;
    let s: number;
    do {
      u = 2 * this.float() - 1;
      v = 2 * this.float() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const m = Math.sqrt((-2 * Math.log(s)) / s);
    this.#spareNormal = v * m;
    return mean + std * (u * m);
  }

  /** A Gamma(shape, scale) draw (mean shape·scale), Marsaglia–Tsang with the U^(1/shape) boost for shape < 1. */
  gamma(shape: number, scale = 1): number {
    checkPositive('shape', shape);
    checkPositive('scale', scale);
    if (shape >= 1) return this.#gammaAtLeastOne(shape) * scale;
    // Gamma(a) = Gamma(a + 1) · U^(1/a) (Marsaglia and Tsang 2000, §6). 1 − float() lies in (0, 1].
    return this.#gammaAtLeastOne(shape + 1) * Math.pow(1 - this.float(), 1 / shape) * scale;
  }

  /** log of a Gamma(shape, 1) draw; stays finite for tiny shapes where the draw itself underflows to 0. */
  #logGamma(shape: number): number {
    if (shape >= 1) return Math.log(this.#gammaAtLeastOne(shape));
    return Math.log(this.#gammaAtLeastOne(shape + 1)) + Math.log(1 - this.float()) / shape;
  }

  /** Marsaglia and Tsang, "A simple method for generating gamma variables", ACM TOMS 26(3), 2000; shape ≥ 1. */
  #gammaAtLeastOne(shape: number): number {
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = 1 - this.float(); // (0, 1], so log(u) is finite
      const x2 = x * x;
      if (u < 1 - 0.0331 * x2 * x2) return d * v;
      if (Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /**
   * A Dirichlet draw: `dirichlet([a1, …, ak])`, or `dirichlet(a, k)` for the symmetric Dir(a·1_k). Computed from
   * log-gamma draws and normalised in log space, so tiny concentrations (e.g. 0.001) never give 0/0.
   */
  dirichlet(alpha: ArrayLike<number> | number, k?: number): Float64Array {
    let alphas: ArrayLike<number>;
    if (typeof alpha === 'number') {
      checkPositive('alpha', alpha);
      if (k === undefined) throw new RangeError('k must be given with a scalar alpha, got undefined');
      checkCount('k', k, 1);
      alphas = new Float64Array(k).fill(alpha);
    } else {
      if (k !== undefined && k !== alpha.length) {
        throw new RangeError(`k must equal alpha.length (${alpha.length}) when alpha is an array, got ${k}`);
      }
      if (alpha.length < 1) throw new RangeError('alpha must have at least one entry, got length 0');
      for (let i = 0; i < alpha.length; i++) checkPositive(`alpha[${i}]`, alpha[i]!);
      alphas = alpha;
    }
    const out = new Float64Array(alphas.length);
    let max = -Infinity;
    for (let i = 0; i < out.length; i++) {
      out[i] = this.#logGamma(alphas[i]!);
      if (out[i]! > max) max = out[i]!;
    }
    let sum = 0;
    for (let i = 0; i < out.length; i++) {
      out[i] = Math.exp(out[i]! - max);
      sum += out[i]!;
    }
    for (let i = 0; i < out.length; i++) out[i] = out[i]! / sum;
    return out;
  }

  /** Shuffles `array` in place (Fisher–Yates, uniform over all orders) and returns it. */
  shuffle<A extends MutableArrayLike<unknown>>(array: A): A {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  /** A uniformly random permutation of 0 … n−1. */
  permutation(n: number): Int32Array {
    checkCount('n', n, 0, 0x7fffffff);
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    return this.shuffle(out);
  }

  /**
   * k distinct integers drawn uniformly from [0, n), in DRAW order (a uniform random k-permutation, so every
   * prefix is itself a uniform sample); sort the result if you need a set. Memory is O(k) when k ≪ n.
   */
  sampleWithoutReplacement(n: number, k: number): Int32Array {
    checkCount('n', n, 0, 0x7fffffff);
    checkCount('k', k, 0, n);
    const out = new Int32Array(k);
    // Partial Fisher–Yates over the virtual array a[i] = i; the dense and sparse variants make identical draws.
    if (k * 4 >= n) {
      const a = new Int32Array(n);
      for (let i = 0; i < n; i++) a[i] = i;
      for (let i = 0; i < k; i++) {
        const j = i + this.int(n - i);
        const tmp = a[i]!;
        a[i] = a[j]!;
        a[j] = tmp;
        out[i] = a[i]!;
      }
      return out;
    }
    const moved = new Map<number, number>();
    for (let i = 0; i < k; i++) {
      const j = i + this.int(n - i);
      const aj = moved.get(j) ?? j;
      const ai = moved.get(i) ?? i;
      moved.set(j, ai);
      out[i] = aj;
    }
    return out;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
