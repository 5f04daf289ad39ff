/**
 * Worker of `MaskExpander` (mask-expansion.ts): expands a slice of the coordinator's mask jobs into one partial
 * sum, Σ sign·PRG(key) mod 2^32, returned by transfer. The keys are secrets: this copy is wiped once used.
 */
import { Piscina } from 'piscina';
import { wipe } from '../shared/secagg/keys.js';
import { addMasks } from '../shared/secagg/prg.js';

/** One slice: `keys` holds 32-byte mask keys back to back, `signs` one ±1 per key. */
export interface MaskSlice {
  length: number;
  keys: Uint8Array;
  signs: Int8Array;
}

export default function expandSlice(slice: MaskSlice): unknown {
  const out = new Uint32Array(slice.length);
  addMasks(
    out,
    Array.from(slice.signs, (sign, j) => ({ key: slice.keys.subarray(32 * j, 32 * j + 32), sign: sign === 1 ? (1 as const) : (-1 as const) })),
  );
  wipe(slice.keys);
  return Piscina.move(out);
}
