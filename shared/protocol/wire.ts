/**
 * Binary fields on the wire. socket.io carries binary anywhere in a message, but it arrives as a Node `Buffer`
 * (or an `ArrayBuffer` in browsers) with no element type and no alignment guarantee. Senders therefore put typed
 * arrays on the wire as plain bytes (`toWire`), and receivers rebuild them with a length and finiteness check
 * (`f32FromWire`, `u32FromWire`), never trusting the sender's idea of the shape.
 */
import { ProtocolError } from './errors.js';

/** A typed array's bytes as a Uint8Array view (no copy). */
export function toWire(a: Float32Array | Uint32Array | Uint8Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Bytes of a binary field as received (Buffer, Uint8Array or ArrayBuffer), or a named error. */
export function bytesFromWire(v: unknown, field: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  throw new ProtocolError('bad-payload', `${field}: expected binary data, got ${v === null ? 'null' : typeof v}`);
}

function checkLength(bytes: Uint8Array, field: string, expected: number | undefined, width: number): number {
  if (bytes.byteLength % width !== 0) throw new ProtocolError('bad-payload', `${field}: ${bytes.byteLength} bytes is not a whole number of ${width}-byte values`);
  const n = bytes.byteLength / width;
  if (expected !== undefined && n !== expected) throw new ProtocolError('bad-shape', `${field}: expected ${expected} values, got ${n}`);
  return n;
}

// A decoded array views the received message's bytes where they are aligned, rather than copying them: the
// message is the receiver's own (a socket's bytes, or a packing made for this one receiver), so nothing else
// reads or writes those bytes, and a coordinator decodes megabytes a round (their copies were a third of the
// ArrayBuffers its process allocated). `pack` aligns every binary field, so only a blob that arrives at an odd
// offset of its buffer is copied.

/** A Float32Array from a binary field (a view where aligned, else an aligned copy), with every value finite. */
export function f32FromWire(v: unknown, field: string, expected?: number): Float32Array {
  const bytes = bytesFromWire(v, field);
  const n = checkLength(bytes, field, expected, 4);
  const out = bytes.byteOffset % 4 === 0 ? new Float32Array(bytes.buffer, bytes.byteOffset, n) : new Float32Array(n);
  if (out.buffer !== bytes.buffer) new Uint8Array(out.buffer).set(bytes);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(out[i]!)) throw new ProtocolError('bad-value', `${field}[${i}] is ${out[i]} (values must be finite)`);
  }
  return out;
}

/** A Uint32Array from a binary field (a view where aligned, else an aligned copy). */
export function u32FromWire(v: unknown, field: string, expected?: number): Uint32Array {
  const bytes = bytesFromWire(v, field);
  const n = checkLength(bytes, field, expected, 4);
  if (bytes.byteOffset % 4 === 0) return new Uint32Array(bytes.buffer, bytes.byteOffset, n);
  const out = new Uint32Array(n);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** A Uint8Array from a binary field, copied, of an exact or maximum length. */
export function u8FromWire(v: unknown, field: string, expected?: number): Uint8Array {
  const bytes = bytesFromWire(v, field);
  if (expected !== undefined && bytes.byteLength !== expected) throw new ProtocolError('bad-shape', `${field}: expected ${expected} bytes, got ${bytes.byteLength}`);
  return Uint8Array.from(bytes);
}

/**
 * A message with all of its binary fields gathered into one buffer. socket.io sends every binary field as a
 * separate attachment and its parser refuses packets with more than 10 (a denial-of-service guard), while a
 * secure-aggregation message can hold hundreds of keys and share boxes; so every message travels packed: a JSON
 * skeleton in which each binary field is replaced by `{ $b: [offset, length] }`, plus one blob.
 */
declare const packedFrom: unique symbol;
/**
 * The packed form of a T. `T` exists for the type checker only (the wire carries `meta` and `blob`): it ties an
 * event's payload to its message type, so the coordinator cannot emit an unmask request on the setup event. A
 * receiver never trusts it: what arrives is validated (`schemas.ts`) before use.
 */
export interface Packed<T = unknown> {
  meta: unknown;
  blob: Uint8Array;
  readonly [packedFrom]?: T;
}

/** Binary fields start at multiples of this many bytes in a blob, so a receiver can view them in place. */
const FIELD_ALIGN = 8;

/**
 * Packs a message: every ArrayBufferView becomes a slice of one blob (bytes, little-endian as in memory), each at
 * an offset aligned to 8 bytes (the gaps are zeros; offsets are explicit, so any unpacker reads it).
 */
export function pack<T>(value: T): Packed<T> {
  const parts: { bytes: Uint8Array; at: number }[] = [];
  let size = 0;
  const walk = (v: unknown): unknown => {
    if (ArrayBuffer.isView(v)) {
      const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      const at = Math.ceil(size / FIELD_ALIGN) * FIELD_ALIGN;
      parts.push({ bytes, at });
      size = at + bytes.byteLength;
      return { $b: [at, bytes.byteLength] };
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = walk(x);
      return out;
    }
    return v;
  };
  const meta = walk(value);
  const blob = new Uint8Array(size);
  for (const p of parts) blob.set(p.bytes, p.at);
  return { meta, blob };
}

/** A packed message as received: an object with a `meta` skeleton and a `blob` (not yet checked as binary). */
function isPackedShape(v: unknown): v is { meta: unknown; blob: unknown } {
  return v !== null && typeof v === 'object' && 'meta' in v && 'blob' in v;
}

/** A binary reference `[offset, length]` of a skeleton: two non-negative integers. */
function isBinaryRef(ref: unknown): ref is [number, number] {
  return Array.isArray(ref) && ref.length === 2 && ref.every((n) => typeof n === 'number' && Number.isInteger(n) && n >= 0);
}

/** Unpacks a received message; binary fields come back as Uint8Array views of the blob. */
export function unpack(packed: unknown, what: string): unknown {
  if (!isPackedShape(packed)) throw new ProtocolError('bad-payload', `${what}: expected a packed message {meta, blob}`);
  const blob = bytesFromWire(packed.blob, `${what}.blob`);
  let nodes = 0;
  const walk = (v: unknown, depth: number): unknown => {
    if (++nodes > 5_000_000 || depth > 32) throw new ProtocolError('bad-payload', `${what}: message too deeply nested or too large`);
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    if (v !== null && typeof v === 'object') {
      if ('$b' in v && v.$b !== undefined) {
        const ref = v.$b;
        if (!isBinaryRef(ref) || ref[0] + ref[1] > blob.byteLength) throw new ProtocolError('bad-payload', `${what}: a binary reference points outside the message`);
        return blob.subarray(ref[0], ref[0] + ref[1]);
      }
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = walk(x, depth + 1);
      return out;
    }
    return v;
  };
  return walk(packed.meta, 0);
}
