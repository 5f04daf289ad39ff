/**
 * How far V8 lets the old generation grow after a full collection, for the `rfl` process.
 *
 * Why: a coordinator (and a simulation's main thread, which also runs its virtual clients) receives, decodes,
 * re-encodes and sends megabytes of model vectors a round — the standard scenario moves 12 MB through its
 * sockets every round, and each message is copied a few times on the way (socket reads, frames, decoding). Those
 * are ArrayBuffers, and V8 counts external memory allocated since the last full collection against the old
 * generation's limit. With V8's default growth the limit sits only some 25 MB above a live heap of about 40 MB
 * (most of it code: tfjs, socket.io), so the process ran a full mark-compact about every 50 ms — three to four a
 * round, most of their work on V8's helper threads. On a 2-core machine that work competes with the pool's two
 * workers and was the largest part of what kept 2 workers from training a round twice as fast as 1.
 *
 * Growing by 200 % (to three times the live heap) cuts those collections severalfold for a few tens of megabytes
 * of heap (docs/performance.md has the figures). `RFL_HEAP_GROWING_PERCENT` sets another value, and 0 leaves
 * V8's own, dynamic, choice.
 */
import { setFlagsFromString } from 'node:v8';

/** The growth the `rfl` process asks for when `RFL_HEAP_GROWING_PERCENT` is unset, in percent of the live heap. */
export const DEFAULT_HEAP_GROWING_PERCENT = 200;

/**
 * Applies `RFL_HEAP_GROWING_PERCENT` (an integer in [0, 1000]; default 200; 0: V8's default) to this process and
 * returns the percent set, or undefined where V8's default is kept. V8 reads the flag whenever it sets a new
 * limit, so it takes effect from the next collection on; worker threads started later share it.
 */
export function tuneHeapGrowth(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env['RFL_HEAP_GROWING_PERCENT'];
  const percent = raw === undefined || raw.trim() === '' ? DEFAULT_HEAP_GROWING_PERCENT : Number(raw);
  if (!Number.isInteger(percent) || percent < 0 || percent > 1000) {
    throw new Error(`RFL_HEAP_GROWING_PERCENT=${raw}: expected an integer in [0, 1000] (0 keeps V8's default growth)`);
  }
  if (percent === 0) return undefined;
  setFlagsFromString(`--heap-growing-percent=${percent}`);
  return percent;
}
