/**
 * V8's garbage collector, tuned for the `rfl` process: a coordinator, or a simulation whose main thread runs the
 * coordinator and its virtual clients while the pool's workers take every core.
 *
 * Why: such a process receives, decodes, re-encodes and sends megabytes of model vectors a round (the standard
 * scenario moves 12 MB through its sockets every round, each message copied a few times on the way: socket reads,
 * frames, decoding). Those are ArrayBuffers, and two of V8's defaults then cost a 2-core machine most of what kept
 * 2 workers from training a round twice as fast as 1 (README.md, "Simulation benchmark", has the figures):
 * - V8 counts external memory allocated since the last full collection against the old generation's limit, which
 *   by default sits some 25 MB above a live heap of about 40 MB (most of it code: tfjs, socket.io). The process
 *   ran a full mark-compact about every 50 ms, three to four a round. Growing by 200 % (to three times the live
 *   heap) makes them several times rarer, for a few tens of megabytes of heap.
 * - Young-generation collections run in parallel on V8's helper threads (four by default, whatever the core
 *   count). With the workers on every core, those helpers only take time from the workers and wait on each
 *   other: a scavenge done by the collecting thread alone cost the round less than half the CPU time.
 *
 * `RFL_GC_TUNING=0` keeps V8's defaults. V8 reads both flags whenever it collects or sets a limit, so setting them
 * at start-up covers the whole run, worker threads included (flags are per process).
 */
import { setFlagsFromString } from 'node:v8';

/** What `tuneGc` sets: the old generation grows by this percent of the live heap after a full collection. */
export const HEAP_GROWING_PERCENT = 200;

/** The V8 flags `tuneGc` sets, in `node` command-line form. */
export const TUNED_GC_FLAGS = [`--heap-growing-percent=${HEAP_GROWING_PERCENT}`, '--no-parallel-scavenge'] as const;

/**
 * Sets `TUNED_GC_FLAGS` for this process unless `RFL_GC_TUNING` is `0` (`1` or unset: tune). Returns the flags
 * set, or an empty list where V8's defaults are kept.
 */
export function tuneGc(env: NodeJS.ProcessEnv = process.env): readonly string[] {
  const raw = env['RFL_GC_TUNING'];
  const value = raw === undefined ? '' : raw.trim();
  if (value !== '' && value !== '0' && value !== '1') throw new Error(`RFL_GC_TUNING=${raw}: expected 1 (tune V8's garbage collector, the default) or 0 (keep V8's defaults)`);
  if (value === '0') return [];
  for (const flag of TUNED_GC_FLAGS) setFlagsFromString(flag);
  return TUNED_GC_FLAGS;
}
