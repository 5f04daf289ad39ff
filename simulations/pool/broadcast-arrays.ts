/**
 * Broadcast arrays in shared memory. A round posts the same global weights (and the same Decent_BVA shared set)
 * with each of its clients' tasks, and evaluation posts the same weights with every chunk: each virtual client
 * decoded its own copy from the wire, so the pool sees equal arrays in different objects. Structured cloning
 * copies each one twice (serialised on the main thread, deserialised in the worker), and on a 2-core machine that
 * main-thread copying and its garbage compete with the workers for the cores.
 *
 * `BroadcastArrays.share(a)` returns a Float32Array over a SharedArrayBuffer holding `a`'s values: the first time
 * it sees those values it copies them once; every later array with equal bytes (one memcmp) gets the same shared
 * copy back. A typed array over shared memory is posted by reference, so a task then costs a few bytes to send.
 *
 * The shared copies are never written after they are made (the workers only read task inputs: tensors are made
 * from them, see `tensorFrom`), so tasks cannot see each other's data change. Only the last `capacity` distinct
 * arrays are kept; an evicted one stays alive as long as a task still holds it.
 */

/** Arrays shorter than this are cloned (compacted first): cloning them costs less than comparing. */
export const MIN_SHARED_LENGTH = 4096;

/**
 * `a`, or a copy of just its elements where it views part of a larger buffer. A received vector is a view of its
 * whole message (protocol/wire.ts), and a structured clone copies a view's entire buffer, so anything posted to a
 * worker by clone goes through this first.
 */
export function compact(a: Float32Array): Float32Array {
  return a.buffer instanceof SharedArrayBuffer || (a.byteOffset === 0 && a.byteLength === a.buffer.byteLength) ? a : a.slice();
}

function bytesOf(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

export class BroadcastArrays {
  /** Most recently used first. */
  private readonly entries: { bytes: Buffer; array: Float32Array }[] = [];
  /** Arrays copied into shared memory, and arrays answered from an earlier copy (tests, diagnostics). */
  readonly counts = { copied: 0, reused: 0 };

  /** @param capacity distinct arrays kept (≥ 1): a round's weights and shared set, its Decent_BVA probes, the evaluated weights. */
  constructor(private readonly capacity = 8) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`BroadcastArrays capacity ${capacity}: expected an integer ≥ 1`);
  }

  /** `a`'s values in shared memory: an earlier shared copy if one holds the same bytes, else a new one. */
  share(a: Float32Array): Float32Array {
    if (a.buffer instanceof SharedArrayBuffer) return a;
    if (a.length < MIN_SHARED_LENGTH) return compact(a);
    const bytes = bytesOf(a);
    const at = this.entries.findIndex((e) => e.bytes.length === bytes.length && e.bytes.equals(bytes));
    if (at >= 0) {
      const [hit] = this.entries.splice(at, 1);
      this.entries.unshift(hit!);
      this.counts.reused++;
      return hit!.array;
    }
    const array = new Float32Array(new SharedArrayBuffer(a.byteLength));
    array.set(a);
    this.entries.unshift({ bytes: bytesOf(array), array });
    if (this.entries.length > this.capacity) this.entries.length = this.capacity;
    this.counts.copied++;
    return array;
  }

  /** Drops every kept copy (the pool closed). */
  clear(): void {
    this.entries.length = 0;
  }
}
