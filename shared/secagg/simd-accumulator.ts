/**
 * A uint32 accumulator in WebAssembly memory that adds and subtracts word vectors mod 2^32 four lanes at a time
 * (i32x4.add / i32x4.sub). Mask expansion is AES-CTR keystream plus this add: the keystream runs in OpenSSL at
 * 1–1.3 ns a word, while a JavaScript add loop costs another ~1 ns a word, so the add was almost half of a mask's
 * cost. Here a chunk is copied into WebAssembly memory (a memcpy) and added with SIMD, about a quarter of that.
 * The result is the same word for word as the plain loop (test/simd-accumulator.test.ts).
 *
 * The module is assembled here from its instructions (no build step, no binary blob): two functions
 * `add(acc, src, n)` and `sub(acc, src, n)` over byte offsets into the exported memory, n words (a multiple of 4).
 * Where WebAssembly SIMD is missing, `SimdAccumulator.available` is false and callers keep the JavaScript loop.
 */

/** LEB128 of a non-negative integer. */
function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

const section = (id: number, bytes: number[]): number[] => [id, ...leb(bytes.length), ...bytes];
const vector = (items: number[][]): number[] => [...leb(items.length), ...items.flat()];
const name = (s: string): number[] => [...leb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

/** Body of `acc[i] ← acc[i] op src[i]` for n words, 16 bytes per step; `op` is i32x4.add (174) or i32x4.sub (177). */
function loopBody(op: number): number[] {
  const LOCAL_GET = 0x20,
    LOCAL_SET = 0x21,
    I32_CONST = 0x41,
    I32_ADD = 0x6a,
    I32_SHL = 0x74,
    I32_GE_U = 0x4f;
  const SIMD = 0xfd,
    V128_LOAD = 0x00,
    V128_STORE = 0x0b;
  const code = [
    // end = acc + 4·n
    LOCAL_GET,
    0,
    LOCAL_GET,
    2,
    I32_CONST,
    2,
    I32_SHL,
    I32_ADD,
    LOCAL_SET,
    3,
    0x02,
    0x40, // block
    0x03,
    0x40, // loop
    LOCAL_GET,
    0,
    LOCAL_GET,
    3,
    I32_GE_U,
    0x0d,
    1, // br_if 1 (acc ≥ end)
    LOCAL_GET,
    0, // store address
    LOCAL_GET,
    0,
    SIMD,
    ...leb(V128_LOAD),
    0,
    0,
    LOCAL_GET,
    1,
    SIMD,
    ...leb(V128_LOAD),
    0,
    0,
    SIMD,
    ...leb(op),
    SIMD,
    ...leb(V128_STORE),
    0,
    0,
    LOCAL_GET,
    0,
    I32_CONST,
    16,
    I32_ADD,
    LOCAL_SET,
    0,
    LOCAL_GET,
    1,
    I32_CONST,
    16,
    I32_ADD,
    LOCAL_SET,
    1,
    0x0c,
    0, // br 0
    0x0b, // end loop
    0x0b, // end block
    0x0b, // end function
  ];
  const locals = [1, 1, 0x7f]; // one local of type i32 (end)
  return [...leb(locals.length + code.length), ...locals, ...code];
}

function moduleBytes(): Uint8Array {
  const I32 = 0x7f;
  return Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vector([[0x60, 3, I32, I32, I32, 0]])), // type 0: (i32, i32, i32) → ()
    ...section(3, vector([[0], [0]])), // add and sub are of type 0
    ...section(5, vector([[0x00, 1]])), // one memory, at least 1 page
    ...section(
      7,
      vector([
        [...name('mem'), 0x02, 0],
        [...name('add'), 0x00, 0],
        [...name('sub'), 0x00, 1],
      ]),
    ),
    ...section(10, [...leb(2), ...loopBody(174), ...loopBody(177)]),
  ]);
}

/** The part of the WebAssembly API used here (the project's TypeScript libs carry no WebAssembly types). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
}
const wasmApi = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

interface Exports {
  mem: { buffer: ArrayBuffer; grow(pages: number): number };
  add: (acc: number, src: number, n: number) => void;
  sub: (acc: number, src: number, n: number) => void;
}

let compiled: object | null | undefined;
function wasmModule(): object | null {
  if (compiled === undefined) {
    try {
      if (wasmApi === undefined) throw new Error('no WebAssembly');
      compiled = new wasmApi.Module(moduleBytes());
    } catch {
      compiled = null; // no WebAssembly SIMD here
    }
  }
  return compiled;
}

const PAGE = 65536;
const round4 = (n: number): number => Math.ceil(n / 4) * 4;

/** A vector of `length` uint32 words in WebAssembly memory, to which word chunks are added or subtracted. */
export class SimdAccumulator {
  /** Whether WebAssembly SIMD is available (else callers use a plain loop). */
  static get available(): boolean {
    return wasmModule() !== null;
  }

  private readonly x: Exports;
  private readonly accPtr = 0;
  private readonly srcPtr: number;
  private readonly scratchWords: number;

  /** `length` words, zero or a copy of `initial`; chunks added later are at most `chunkWords` long. */
  constructor(
    readonly length: number,
    chunkWords: number,
    initial?: Uint32Array,
  ) {
    const mod = wasmModule();
    if (mod === null) throw new Error('WebAssembly SIMD is not available (check SimdAccumulator.available first)');
    this.x = new wasmApi!.Instance(mod).exports as Exports;
    this.scratchWords = round4(chunkWords);
    this.srcPtr = 4 * round4(length);
    const bytes = this.srcPtr + 4 * this.scratchWords;
    const have = this.x.mem.buffer.byteLength;
    if (bytes > have) this.x.mem.grow(Math.ceil((bytes - have) / PAGE));
    if (initial !== undefined) this.words().set(initial);
  }

  /** The accumulator (a view into WebAssembly memory: copy it before the accumulator is dropped). */
  words(): Uint32Array {
    return new Uint32Array(this.x.mem.buffer, this.accPtr, this.length);
  }

  /** acc[offset + i] ← acc[offset + i] + sign·chunk[i] mod 2^32. `offset` must be a multiple of 4. */
  apply(chunk: Uint32Array, offset: number, sign: 1 | -1): void {
    if (offset % 4 !== 0 || chunk.length > this.scratchWords || offset + chunk.length > this.length) throw new RangeError(`chunk of ${chunk.length} words at ${offset} does not fit`);
    const n = round4(chunk.length);
    const src = new Uint32Array(this.x.mem.buffer, this.srcPtr, n);
    src.set(chunk);
    // Padding lanes add zero; they land in the accumulator's own padding (length rounded up to 4).
    if (n !== chunk.length) src.fill(0, chunk.length);
    (sign === 1 ? this.x.add : this.x.sub)(this.accPtr + 4 * offset, this.srcPtr, n);
  }
}
